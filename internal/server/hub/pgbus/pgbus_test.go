package pgbus_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/ferrycd/ferry/internal/server/hub"
	"github.com/ferrycd/ferry/internal/server/hub/pgbus"
	"github.com/ferrycd/ferry/internal/testenv"
)

// replica is one side of the bus: a hub with a stream of agent "a"
// subscribed, and its relay over a real LISTEN/NOTIFY transport.
type replica struct {
	relay  *hub.Relay
	stream <-chan hub.Item
	done   chan struct{}
}

func startReplica(t *testing.T, dsn, origin string) *replica {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)).With("replica", origin)
	tr, err := pgbus.Open(context.Background(), dsn, pgbus.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New()
	stream, unsubscribe := h.Subscribe("a")
	r := &replica{relay: hub.NewRelay(h, origin, tr, logger), stream: stream, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		if err := r.relay.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		unsubscribe()
		if err := r.relay.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// next waits for the stream's next item.
func (r *replica) next(t *testing.T, what string) hub.Item {
	t.Helper()
	select {
	case it := <-r.stream:
		return it
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return hub.Item{}
	}
}

// listeners returns the backend pids listening on channel.
func listeners(t *testing.T, db *sql.DB, channel string) []int {
	t.Helper()
	rows, err := db.Query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = $2",
		pgbus.ApplicationName, `LISTEN "`+channel+`"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
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

func schemaOf(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

func TestItemsCrossReplicasAndSurviveALostConnection(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := startReplica(t, dsn, "A")
	b := startReplica(t, dsn, "B")
	ctx := context.Background()
	channel := pgbus.Channel(schemaOf(t, dsn))

	pushed := &hub.Notice{Kind: hub.NoticeRepositoryPushed, RepositoryID: "apps", Branch: "main", CommitHash: "abc"}
	if err := a.relay.Publish(ctx, "a", hub.Item{Notice: pushed}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hub.Item{Notice: pushed}, a.next(t, "A's own notice")); diff != "" {
		t.Errorf("A delivered (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(hub.Item{Notice: pushed}, b.next(t, "the notice on B")); diff != "" {
		t.Errorf("B delivered (-want +got):\n%s", diff)
	}

	// Both replicas listen on the test's own channel; kill both connections.
	pids := listeners(t, db, channel)
	if len(pids) != 2 {
		t.Fatalf("%d connections listen on %s, want 2", len(pids), channel)
	}
	if _, err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)", pids); err != nil {
		t.Fatal(err)
	}
	// Both reconnect and ask their streams to re-read what they missed.
	if it := a.next(t, "A's recheck after reconnecting"); !it.Recheck {
		t.Errorf("A delivered %+v after reconnecting, want a recheck", it)
	}
	if it := b.next(t, "B's recheck after reconnecting"); !it.Recheck {
		t.Errorf("B delivered %+v after reconnecting, want a recheck", it)
	}
	killed := map[int]bool{pids[0]: true, pids[1]: true}
	testenv.WaitFor(t, 10*time.Second, "both replicas listen again on new connections", func() bool {
		now := listeners(t, db, channel)
		return len(now) == 2 && !killed[now[0]] && !killed[now[1]]
	})
	if err := b.relay.Publish(ctx, "a", hub.Item{Notice: pushed}); err != nil {
		t.Fatal(err)
	}
	b.next(t, "B's own notice")
	if diff := cmp.Diff(hub.Item{Notice: pushed}, a.next(t, "the notice on A after reconnecting")); diff != "" {
		t.Errorf("A delivered (-want +got):\n%s", diff)
	}
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
