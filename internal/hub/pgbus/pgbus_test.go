package pgbus_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/hub/bustest"
	"github.com/ferrycd/ferry/internal/hub/pgbus"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestItemsCrossReplicasAndSurviveALostConnection(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The test's schema names the channel, so only this test's transports
	// listen on it.
	channel := pgbus.Channel(u.Query().Get("search_path"))
	bustest.Run(t, bustest.Broker{
		Open: func(t *testing.T, logger *slog.Logger) hub.Transport {
			tr, err := pgbus.Open(context.Background(), dsn, pgbus.Options{Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
		Listeners: func(t *testing.T) []string { return listeners(t, db, channel) },
		Kill: func(t *testing.T, pids []string) {
			if _, err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid::text = ANY($1)", pids); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// listeners returns the pids of the backends listening on channel.
func listeners(t *testing.T, db *sql.DB, channel string) []string {
	t.Helper()
	rows, err := db.Query("SELECT pid::text FROM pg_stat_activity WHERE application_name = $1 AND query = $2",
		pgbus.ApplicationName, `LISTEN "`+channel+`"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []string
	for rows.Next() {
		var pid string
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

func TestAnUnreachableDatabaseFailsOpenWithoutThePassword(t *testing.T) {
	_, err := pgbus.Open(context.Background(), "postgres://ferry:s3cret@127.0.0.1:1/ferry?sslmode=disable&connect_timeout=2", pgbus.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open = %v, want an error naming the server and never the password", err)
	}
}

func TestChannelsAreNamedAfterTheSchemaAndFitAnIdentifier(t *testing.T) {
	for schema, want := range map[string]string{
		"":                             "ferry_hub",
		"public":                       "ferry_hub_public",
		"ferry_test_23477_459502925_1": "ferry_hub_ferry_test_23477_459502925_1",
	} {
		if got := pgbus.Channel(schema); got != want {
			t.Errorf("Channel(%q) = %q, want %q", schema, got, want)
		}
	}
	long1, long2 := strings.Repeat("s", 60), strings.Repeat("s", 59)+"t"
	c1, c2 := pgbus.Channel(long1), pgbus.Channel(long2)
	if len(c1) > 63 || !strings.HasPrefix(c1, "ferry_hub_") || c1 == c2 || c1 != pgbus.Channel(long1) {
		t.Errorf("Channel of long schemas = %q and %q, want distinct, stable names of at most 63 bytes", c1, c2)
	}
}
