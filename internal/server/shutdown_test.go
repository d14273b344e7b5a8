package server_test

import (
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	_ "modernc.org/sqlite" // the "sqlite" driver, to hold the database's write lock

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestCloseDrainsInFlightRequests holds SQLite's write lock from outside so
// a RegisterAgent call is stuck in flight, closes the server, and checks
// that the call still completes and its write is kept.
func TestCloseDrainsInFlightRequests(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	dbPath := filepath.Join(s.dataDir, "ferry.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.user(s.adminKey).RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: "drained"}))
		done <- err
	}()
	testenv.WaitFor(t, 10*time.Second, "the call is in flight", func() bool {
		res, err := http.Get(s.Addr() + "/metrics")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return strings.Contains(string(body), `ferry_api_requests_in_flight{procedure="/ferry.v1.UserService/RegisterAgent"} 1`)
	})

	addr := strings.TrimPrefix(s.Addr(), "http://")
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	testenv.WaitFor(t, 10*time.Second, "the server stops accepting connections", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-done:
		t.Fatalf("the call ended while the database was still locked: %v", err)
	default:
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("in-flight call during shutdown: %v, want it to finish", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM agents WHERE name = 'drained'").Scan(&n); err != nil || n != 1 {
		t.Errorf("agents named drained after shutdown = %d, %v; want 1", n, err)
	}
}
