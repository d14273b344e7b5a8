package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMetricsOnTheAPIAddressAnswerOnlyThisMachine(t *testing.T) {
	metrics := localOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ferry_up 1\n")) }))
	for _, tc := range []struct {
		name, remote, header string
		want                 int
	}{
		{"a client on IPv4 loopback", "127.0.0.1:40000", "", http.StatusOK},
		{"a client on IPv6 loopback", "[::1]:40000", "", http.StatusOK},
		{"a client elsewhere", "203.0.113.9:40000", "", http.StatusForbidden},
		{"a client on the local network", "10.1.2.3:40000", "", http.StatusForbidden},
		{"a request a proxy here forwarded", "127.0.0.1:40000", "X-Forwarded-For", http.StatusForbidden},
		{"a request forwarded the standard way", "127.0.0.1:40000", "Forwarded", http.StatusForbidden},
		{"a request forwarded with X-Real-IP", "127.0.0.1:40000", "X-Real-IP", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set(tc.header, "203.0.113.9")
			}
			rec := httptest.NewRecorder()
			metrics.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("GET /metrics: %d, want %d", rec.Code, tc.want)
			}
		})
	}
}
