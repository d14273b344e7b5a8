package web

import (
	"net/http"
	"net/url"
	"testing"
)

func TestSafeNextKeepsOnlyPathsOfThisConsole(t *testing.T) {
	for _, tc := range []struct {
		name, next, want string
	}{
		{"a page of the console is kept", "/deployments/abc", "/deployments/abc"},
		{"a query and a fragment are kept", "/applications?kind=KUBERNETES#top", "/applications?kind=KUBERNETES#top"},
		{"a percent-encoded slash that decodes to two goes home", "/%2F/evil.example", "/applications"},
		{"a percent-encoded tab stays a path", "/deployments/%09x", "/deployments/%09x"},
		{"nothing goes home", "", "/applications"},
		{"a relative path goes home", "agents", "/applications"},
		{"a scheme-relative URL goes home", "//evil.example", "/applications"},
		{"three slashes go home", "///evil.example", "/applications"},
		{"an absolute URL goes home", "https://evil.example/", "/applications"},
		{"a URL with only a scheme goes home", "https:evil.example", "/applications"},
		{"a javascript URL goes home", "javascript:alert(1)", "/applications"},
		{"a backslash after the slash goes home", `/\evil.example`, "/applications"},
		{"a backslash first goes home", `\/evil.example`, "/applications"},
		{"two backslashes go home", `\\evil.example`, "/applications"},
		{"a tab between the slashes goes home", "/\t/evil.example", "/applications"},
		{"a newline between the slashes goes home", "/\n/evil.example", "/applications"},
		{"a carriage return between the slashes goes home", "/\r/evil.example", "/applications"},
		{"a leading tab goes home", "\t//evil.example", "/applications"},
		{"a leading space goes home", " //evil.example", "/applications"},
		{"a NUL goes home", "/\x00/evil.example", "/applications"},
		{"a user info goes home", "//user@evil.example", "/applications"},
		{"a tab and a backslash go home", "/\t\\evil.example", "/applications"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := safeNext(tc.next); got != tc.want {
				t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

func TestSignInDoesNotRedirectOffTheConsole(t *testing.T) {
	c := newConsole(t, Options{})
	for _, next := range []string{"/\t/evil.example", "/\\evil.example", "//evil.example", "https://evil.example"} {
		b := c.browser()
		res, _ := b.do(http.MethodPost, "/login", url.Values{"csrf": {b.csrf("/login")}, "username": {"admin"}, "password": {adminPassword}, "next": {next}})
		if got := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || got != "/applications" {
			t.Errorf("sign-in with next %q: got %d to %q, want a redirect to /applications", next, res.StatusCode, got)
		}
		// A signed-in person sent to the sign-in page goes on at once.
		res, _ = b.get("/login?next=" + url.QueryEscape(next))
		if got := res.Header.Get("Location"); got != "/applications" {
			t.Errorf("the sign-in page, signed in, with next %q: redirects to %q, want /applications", next, got)
		}
	}
}
