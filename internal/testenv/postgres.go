package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PostgresEnv names the variable that points the tests at a PostgreSQL
// server, such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const PostgresEnv = "FERRY_TEST_POSTGRES_URL"

// RequirePostgresEnv names the variable that, set to 1 (as CI does), makes
// tests that need PostgreSQL fail instead of skip when PostgresEnv is unset.
const RequirePostgresEnv = "FERRY_TEST_REQUIRE_POSTGRES"

var schemaSeq atomic.Int64

// PostgresURL returns a URL on the server named by FERRY_TEST_POSTGRES_URL
// whose search_path is a new, empty schema, dropped when the test ends. The
// test is skipped, saying why, when the variable is not set (failed under
// FERRY_TEST_REQUIRE_POSTGRES=1).
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		skipMissing(t, "PostgreSQL", RequirePostgresEnv,
			fmt.Errorf("%s is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)", PostgresEnv))
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() { db.Close() })
	name := fmt.Sprintf("ferry_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema on %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}
