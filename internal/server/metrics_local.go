package server

import (
	"net"
	"net/http"
)

// localOnly serves next (the /metrics of the API's address, when there is
// no admin address) only to this machine: to a client on a loopback
// address whose request no proxy forwarded. The metrics name every
// procedure and count calls and failures, which is nobody else's business;
// a Prometheus elsewhere scrapes the admin address (--admin-address),
// which is meant to be reachable only where it should be.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fromThisMachine(r) {
			http.Error(w, "/metrics on this address answers only to this machine. To scrape it from elsewhere, serve it on a separate address with --admin-address (adminAddress in the ControlPlane file) and let only Prometheus reach that.", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromThisMachine reports whether r came straight from a loopback address:
// a request a proxy on this machine forwarded says so in its headers.
func fromThisMachine(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
