package server_test

import (
	"net/http"
	"testing"

	"github.com/ferrycd/ferry/internal/server"
)

// TestMetricsAreNotPublicWithoutAnAdminAddress: without an admin address
// the API's address serves /metrics to this machine only, and a request a
// proxy forwarded from elsewhere is refused; with one, the API's address
// has no /metrics at all.
func TestMetricsAreNotPublicWithoutAnAdminAddress(t *testing.T) {
	get := func(url string, forwarded bool) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if forwarded {
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	s := startServer(t)
	if got := get(s.Addr()+"/metrics", false); got != http.StatusOK {
		t.Errorf("/metrics from this machine: %d, want 200", got)
	}
	if got := get(s.Addr()+"/metrics", true); got != http.StatusForbidden {
		t.Errorf("/metrics forwarded from elsewhere: %d, want 403", got)
	}

	admin := startServer(t, func(c *server.Config) { c.AdminAddress = "127.0.0.1:0" })
	if got := get(admin.Addr()+"/metrics", false); got == http.StatusOK {
		t.Errorf("/metrics on the API's address with an admin address set: %d, want none", got)
	}
}
