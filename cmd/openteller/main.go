// Command openteller runs the OpenTeller platform: `openteller demo` for a
// laptop, `openteller serve` for a fleet, and admin commands. Run
// `openteller help` for the list.
package main

import (
	"os"

	"github.com/openteller/openteller/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
