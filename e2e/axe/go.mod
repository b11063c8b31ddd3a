// Not Go code: this file makes the folder a module of its own, so that the
// npm installation in node_modules stays out of the main module's ./...
module openteller.invalid/e2e/axe

go 1.26
