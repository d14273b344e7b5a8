package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a time the test moves on by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// signInFrom posts the sign-in form as a browser at addr would, with the
// sign-in form's CSRF cookie and field.
func (c *console) signInFrom(addr, user, password string) *httptest.ResponseRecorder {
	form := url.Values{"csrf": {"t"}, "username": {user}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: "t"})
	req.RemoteAddr = addr + ":50000"
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

func TestFailedSignInsAreThrottledPerUsername(t *testing.T) {
	clk := &clock{now: time.Now()}
	c := newConsole(t, Options{Now: clk.Now})
	// Each failure from another address, so only the username's limit
	// counts.
	for i := range nameFailures {
		if rec := c.signInFrom("192.0.2."+string(rune('1'+i%9)), "admin", "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, rec.Code)
		}
	}
	rec := c.signInFrom("198.51.100.7", "Admin", adminPassword)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "30" ||
		!strings.Contains(rec.Body.String(), "Too many failed sign-ins as Admin") || !strings.Contains(rec.Body.String(), "allowed in 30 seconds") {
		t.Fatalf("after %d failures as admin, even the right password from elsewhere: %d, Retry-After %q, want 429 after 30 s saying why:\n%s",
			nameFailures, rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := c.signInFrom("198.51.100.7", "bob", "guess"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another username meanwhile: %d, want 401 (its password checked)", rec.Code)
	}
	clk.add(30 * time.Second)
	if rec := c.signInFrom("198.51.100.7", "admin", adminPassword); rec.Code != http.StatusSeeOther {
		t.Fatalf("the right password once the wait is over: %d, want a sign-in", rec.Code)
	}
	// A sign-in that succeeded forgets the username's failures.
	for i := range nameFailures {
		if rec := c.signInFrom("203.0.113."+string(rune('1'+i%9)), "admin", "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after a sign-in: %d, want 401", i+1, rec.Code)
		}
	}
}

func TestFailedSignInsAreThrottledPerAddress(t *testing.T) {
	clk := &clock{now: time.Now()}
	c := newConsole(t, Options{Now: clk.Now})
	// Each failure as another username, so only the address's limit counts.
	for i := range addrFailures {
		if rec := c.signInFrom("192.0.2.10", "user"+string(rune('a'+i)), "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, rec.Code)
		}
	}
	rec := c.signInFrom("192.0.2.10", "admin", adminPassword)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "6" || !strings.Contains(rec.Body.String(), "Too many failed sign-ins from your address") {
		t.Fatalf("after %d failures from one address: %d, Retry-After %q, want 429 after 6 s:\n%s", addrFailures, rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := c.signInFrom("192.0.2.11", "admin", adminPassword); rec.Code != http.StatusSeeOther {
		t.Errorf("another address meanwhile: %d, want a sign-in", rec.Code)
	}
	// An IPv6 client counts by its /64.
	for i := range addrFailures {
		c.signInFrom("[2001:db8::"+string(rune('a'+i%6))+"]", "v6user"+string(rune('a'+i)), "guess")
	}
	if rec := c.signInFrom("[2001:db8::ffff]", "admin", adminPassword); rec.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same IPv6 /64: %d, want 429", rec.Code)
	}
	// Once failures stop, the whole allowance comes back: nobody is locked
	// out for good.
	clk.add(addrFailures * addrEvery)
	for i := range addrFailures {
		if rec := c.signInFrom("192.0.2.10", "other"+string(rune('a'+i)), "guess"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after the wait: %d, want 401", i+1, rec.Code)
		}
	}
}
