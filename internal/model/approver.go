package model

import "strings"

// ApproverSubject turns an entry of a WAIT_APPROVAL stage's approvers list
// into the subject of the caller it lets approve. Approvals are matched on
// subjects, which the control plane sets from how a caller signed in, never
// on names people or admins choose (an API key's name, an SSO display
// name), so nobody can approve as someone else by taking their name:
//
//   - "alice" or "user:alice": the static admin signed in as alice
//     (subject user:alice);
//   - "github:583231" or "user:github:583231": the person single sign-on
//     provider github knows by that stable id (subject
//     user:<provider>:<id>, shown by `ferry session list`);
//   - "apikey:<id>": the API key with that id.
//
// Spaces around an entry are ignored; an empty entry is "".
func ApproverSubject(entry string) string {
	entry = strings.TrimSpace(entry)
	switch {
	case entry == "":
		return ""
	case strings.HasPrefix(entry, "user:"), strings.HasPrefix(entry, "apikey:"):
		return entry
	}
	return "user:" + entry
}
