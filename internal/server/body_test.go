package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// TestACallIsAuthenticatedBeforeItsBodyIsRead sends calls that announce a
// 15 MiB body but send only 1 MiB of it and then close their side: the
// answer can only be the authentication's if the server checked the
// credentials from the headers alone, without reading (and decoding) the
// body first.
func TestACallIsAuthenticatedBeforeItsBodyIsRead(t *testing.T) {
	s := startServer(t)
	viewer := s.apiKey(t, ferryv1.Role_ROLE_VIEWER)
	for _, tc := range []struct {
		name, procedure, key string
		status               int
		code                 string
	}{
		{"no credentials", "/ferry.v1.UserService/GetMe", "", http.StatusUnauthorized, "unauthenticated"},
		{"a wrong API key", "/ferry.v1.UserService/GetMe", strings.Split(s.adminKey, ".")[0] + ".wrong", http.StatusUnauthorized, "unauthenticated"},
		{"a role too low", "/ferry.v1.UserService/RegisterAgent", viewer, http.StatusForbidden, "permission_denied"},
		{"a wrong agent key", "/ferry.v1.AgentService/ReportStageLogs", "nosuch.key", http.StatusUnauthorized, "unauthenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := strings.TrimPrefix(s.Addr(), "http://")
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var head bytes.Buffer
			fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", tc.procedure, addr, 15<<20)
			if tc.key != "" {
				fmt.Fprintf(&head, "Authorization: Bearer %s\r\n", tc.key)
			}
			head.WriteString("\r\n")
			if _, err := conn.Write(head.Bytes()); err != nil {
				t.Fatal(err)
			}
			// What is sent of the body is white space, a valid start of
			// a JSON message; a write the server refuses by closing is fine.
			_, _ = conn.Write(bytes.Repeat([]byte(" "), 1<<20))
			_ = conn.(*net.TCPConn).CloseWrite()
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read the answer: %v", err)
			}
			defer res.Body.Close()
			var e struct{ Code, Message string }
			_ = json.NewDecoder(res.Body).Decode(&e)
			if res.StatusCode != tc.status || e.Code != tc.code {
				t.Errorf("answer %d %q (%s), want %d %q from the headers alone", res.StatusCode, e.Code, e.Message, tc.status, tc.code)
			}
		})
	}
}
