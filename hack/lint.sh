#!/usr/bin/env bash
# Lints with the pinned golangci-lint (hack/tools/lint/go.mod), built once
# into the Go build cache by `go tool`.
set -euo pipefail
cd "$(dirname "$0")/.."
test -z "$(gofmt -l $(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $(git ls-files '*.go'); exit 1; }
go tool -modfile=hack/tools/lint/go.mod golangci-lint run ./...
