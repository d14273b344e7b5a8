package controlplane_test

import "net/http"

// testHTTP is the HTTP client of the tests' user calls.
var testHTTP = &http.Client{}
