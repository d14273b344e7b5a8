package cli

import "testing"

func TestShellQuoteQuotesOnlyWhatAShellWouldSplitOrExpand(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/home/ann/.cache/ferry/quickstart/bin/ferry", "/home/ann/.cache/ferry/quickstart/bin/ferry"},
		{"/Users/Ann Lee/Library/Caches/ferry", "'/Users/Ann Lee/Library/Caches/ferry'"},
		{"/tmp/it's/$HOME", `'/tmp/it'\''s/$HOME'`},
		{"", "''"},
	} {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
