// Command ferry is Ferry's one binary: the control plane (ferry server),
// and the CLI for people and CI. See `ferry --help`.
package main

import (
	"context"
	"os"

	"github.com/ferrycd/ferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
