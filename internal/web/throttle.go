package web

import (
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed password sign-ins are limited per client address and per
// username, each by a token bucket: a few failures in a row are free, then
// one more is allowed every so often, and the whole allowance is back once
// the failures stop for a while. So nobody is locked out for good, and a
// password is guessed at a few tries a minute at most, however many
// addresses the guesses come from. Sign-ins that succeed cost nothing.
const (
	// addrFailures failed sign-ins from one address in a row, then one
	// more every addrEvery. Behind a proxy every client has the proxy's
	// address, so this one is the more generous.
	addrFailures = 20
	addrEvery    = 6 * time.Second
	// nameFailures failed sign-ins as one username (in one project) in a
	// row, then one more every nameEvery.
	nameFailures = 10
	nameEvery    = 30 * time.Second
	// maxTracked bounds each table of buckets. Buckets that are full again
	// are dropped first; past that, arbitrary ones.
	maxTracked = 10000
)

// throttle keeps the token buckets of failed sign-ins, on this replica.
type throttle struct {
	mu     sync.Mutex
	byAddr buckets
	byName buckets
}

// buckets are token buckets by key.
type buckets struct {
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
}

func newThrottle() *throttle {
	return &throttle{
		byAddr: buckets{m: map[string]*rate.Limiter{}, limit: rate.Every(addrEvery), burst: addrFailures},
		byName: buckets{m: map[string]*rate.Limiter{}, limit: rate.Every(nameEvery), burst: nameFailures},
	}
}

// wait returns how long the sign-in of name in project from addr must
// wait before it may be tried; 0 when it may be tried now. byName tells
// whether the username's limit (rather than the address's) holds it back.
func (t *throttle) wait(now time.Time, addr, project, name string) (d time.Duration, byName bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	da := t.byAddr.wait(now, addr)
	dn := t.byName.wait(now, nameKey(project, name))
	if dn > da {
		return dn, true
	}
	return da, false
}

// fail counts a failed sign-in of name in project from addr.
func (t *throttle) fail(now time.Time, addr, project, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byAddr.take(now, addr)
	t.byName.take(now, nameKey(project, name))
}

// succeed forgets the failed sign-ins of name in project: its owner knows
// the password.
func (t *throttle) succeed(project, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byName.m, nameKey(project, name))
}

func nameKey(project, name string) string {
	return project + "\x00" + strings.ToLower(name)
}

func (b *buckets) wait(now time.Time, key string) time.Duration {
	l, ok := b.m[key]
	if !ok {
		return 0
	}
	missing := 1 - l.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(b.limit) * float64(time.Second)))
}

func (b *buckets) take(now time.Time, key string) {
	l, ok := b.m[key]
	if !ok {
		if len(b.m) >= maxTracked {
			b.prune(now)
		}
		l = rate.NewLimiter(b.limit, b.burst)
		b.m[key] = l
	}
	l.AllowN(now, 1)
}

// prune drops the buckets that are full again, which are as good as none;
// when that frees too little, it drops arbitrary ones down to half.
func (b *buckets) prune(now time.Time) {
	for k, l := range b.m {
		if l.TokensAt(now) >= float64(b.burst) {
			delete(b.m, k)
		}
	}
	for k := range b.m {
		if len(b.m) <= maxTracked/2 {
			break
		}
		delete(b.m, k)
	}
}

// clientAddr is the address a sign-in came from: the connection's, since a
// header naming another (X-Forwarded-For) is whatever the client says. An
// IPv6 address counts by its /64, which one client usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// retryAfter is d in whole seconds, at least one, for a Retry-After header
// and for people.
func retryAfter(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
