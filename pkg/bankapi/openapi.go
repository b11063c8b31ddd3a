package bankapi

import _ "embed"

// OpenAPI is the OpenAPI 3.1 description of the Bank API, as served at
// /v1/openapi.json. A test in the server keeps it in step with the routes.
//
//go:embed openapi.json
var OpenAPI []byte
