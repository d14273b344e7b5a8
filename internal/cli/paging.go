package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// pageFlags are the paging flags of list verbs. Without --limit a list
// fetches every page; with it, one page, and says how to get the next.
type pageFlags struct {
	limit int32
	token string
}

// fullListPageSize is the page size used when a verb fetches every page.
const fullListPageSize = 500

func (p *pageFlags) register(cmd *cobra.Command) {
	cmd.Flags().Int32Var(&p.limit, "limit", 0, "return at most this many items, one page (default: all)")
	cmd.Flags().StringVar(&p.token, "page-token", "", "continue a --limit list from the token it printed")
}

// each calls fetch for each page to read; fetch returns the next page's
// token, "" after the last.
func (p *pageFlags) each(cmd *cobra.Command, fetch func(size int32, token string) (next string, err error)) error {
	if p.limit < 0 {
		return usagef("--limit must be positive")
	}
	if p.limit > 0 {
		next, err := fetch(p.limit, p.token)
		if err == nil && next != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "more results: add --page-token %s\n", next)
		}
		return err
	}
	token := p.token
	for {
		next, err := fetch(fullListPageSize, token)
		if err != nil || next == "" {
			return err
		}
		token = next
	}
}
