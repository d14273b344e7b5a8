package gitrepo

import "strings"

// URLRewrite replaces the start of remote URLs, as git's
// url.<To>.insteadOf = <From> does: a site without the internet points
// https://github.com/ at its own mirror, and every remote under it is
// fetched from there.
type URLRewrite struct {
	// From is the prefix to replace, e.g. https://github.com/.
	From string
	// To replaces it, e.g. https://git.mirror.local/.
	To string
}

// RewriteURL applies the rewrite whose From is the longest prefix of
// remote, as git does when several insteadOf values match, and returns
// remote unchanged when none does.
func RewriteURL(remote string, rules []URLRewrite) string {
	best := -1
	for i, r := range rules {
		if r.From != "" && strings.HasPrefix(remote, r.From) && (best < 0 || len(r.From) > len(rules[best].From)) {
			best = i
		}
	}
	if best < 0 {
		return remote
	}
	return rules[best].To + strings.TrimPrefix(remote, rules[best].From)
}
