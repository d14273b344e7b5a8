package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/server/api"
)

// callJSON calls a procedure over the Connect protocol's JSON encoding with
// an empty message, as any HTTP client could, and returns the result code
// ("ok" or the Connect error code).
func callJSON(t *testing.T, base, procedure, key string) string {
	t.Helper()
	streaming := strings.HasSuffix(procedure, "/Watch")
	body := []byte("{}")
	ctype := "application/json"
	if streaming {
		env := make([]byte, 5, 7)
		binary.BigEndian.PutUint32(env[1:], uint32(len(body)))
		body = append(env, body...)
		ctype = "application/connect+json"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+procedure, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct {
		Code  string `json:"code"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if !streaming {
		if res.StatusCode == http.StatusOK {
			return "ok"
		}
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
			t.Fatalf("%s: status %d with undecodable body: %v", procedure, res.StatusCode, err)
		}
		return e.Code
	}
	// A stream: the first envelope is a message (ok) or the end-of-stream
	// envelope carrying the error.
	r := bufio.NewReader(res.Body)
	head := make([]byte, 5)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("%s: read stream: %v", procedure, err)
	}
	msg := make([]byte, binary.BigEndian.Uint32(head[1:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		t.Fatalf("%s: read stream: %v", procedure, err)
	}
	if head[0]&0x02 == 0 {
		return "ok"
	}
	if err := json.Unmarshal(msg, &e); err != nil || e.Error == nil {
		return "ok"
	}
	return e.Error.Code
}

// TestEveryRPCChecksTheCallersRole calls every procedure of the API as every
// kind of caller. A caller whose role is below the method's gets
// permission_denied or unauthenticated; one whose role suffices gets past
// authorisation (the empty request may still be invalid or not found).
func TestEveryRPCChecksTheCallersRole(t *testing.T) {
	s := startServer(t)
	_, agentKey := s.registerAgent(t, "role-test")
	callers := []struct {
		name string
		key  string
		role ferryv1.Role
	}{
		{"nobody", "", ferryv1.Role_ROLE_UNSPECIFIED},
		{"a malformed key", "garbage", ferryv1.Role_ROLE_UNSPECIFIED},
		{"a wrong secret", strings.Split(s.adminKey, ".")[0] + ".wrong", ferryv1.Role_ROLE_UNSPECIFIED},
		{"a viewer", s.apiKey(t, ferryv1.Role_ROLE_VIEWER), ferryv1.Role_ROLE_VIEWER},
		{"an editor", s.apiKey(t, ferryv1.Role_ROLE_EDITOR), ferryv1.Role_ROLE_EDITOR},
		{"an admin", s.adminKey, ferryv1.Role_ROLE_ADMIN},
		{"an agent", agentKey, ferryv1.Role_ROLE_AGENT},
	}
	required := api.RequiredRoles()
	procs := make([]string, 0, len(required))
	for p, role := range required {
		if role == ferryv1.Role_ROLE_UNSPECIFIED {
			t.Errorf("%s has no required_role option", p)
		}
		procs = append(procs, p)
	}
	sort.Strings(procs)
	if len(procs) < 40 {
		t.Fatalf("only %d procedures found", len(procs))
	}
	for _, proc := range procs {
		want := required[proc]
		for _, c := range callers {
			allowed := c.role != ferryv1.Role_ROLE_UNSPECIFIED &&
				((want == ferryv1.Role_ROLE_AGENT) == (c.role == ferryv1.Role_ROLE_AGENT)) &&
				(c.role == ferryv1.Role_ROLE_AGENT || c.role >= want)
			got := callJSON(t, s.Addr(), proc, c.key)
			denied := got == "permission_denied" || got == "unauthenticated"
			if allowed == denied {
				t.Errorf("%s as %s: got %s, want allowed=%v", proc, c.name, got, allowed)
			}
			if got == "internal" || got == "unknown" {
				t.Errorf("%s as %s: got %s: bad input must never be a server error", proc, c.name, got)
			}
		}
	}
}
