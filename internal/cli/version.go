package cli

import (
	"encoding/json"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/ferrycd/ferry/internal/version"
)

// newVersionCmd builds `ferry version`.
func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ferry's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			w := cmd.OutOrStdout()
			switch g.output {
			case "json":
				data, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(w, "%s\n", data)
				return err
			case "yaml":
				data, err := yaml.Marshal(info)
				if err != nil {
					return err
				}
				_, err = w.Write(data)
				return err
			case "table":
				fmt.Fprintf(w, "ferry %s\n", version.String())
				fmt.Fprintf(w, "go: %s %s\n", info.GoVersion, info.Platform)
				return nil
			}
			_, err := g.printer(w)
			return err
		},
	}
}
