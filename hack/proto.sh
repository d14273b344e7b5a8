#!/usr/bin/env bash
# Regenerates the Go code of the API from api/**/*.proto. The generators are
# pinned in hack/tools/proto/go.mod and run through `go tool`.
set -euo pipefail
cd "$(dirname "$0")/.."
go tool -modfile=hack/tools/proto/go.mod buf lint
go tool -modfile=hack/tools/proto/go.mod buf generate
