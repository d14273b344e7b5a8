package agentdeploy

import "net/http"

// httpClient carries the harness's API calls.
var httpClient = &http.Client{}
