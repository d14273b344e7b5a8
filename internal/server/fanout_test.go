package server_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/redis/go-redis/v9"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/hub/pgbus"
	"github.com/ferrycd/ferry/internal/hub/redisbus"
	"github.com/ferrycd/ferry/internal/server"
	"github.com/ferrycd/ferry/internal/testenv"
)

// promptly bounds every wait for an item crossing replicas. The replicas'
// command poll interval is an hour, so an item that arrives in time came
// through the fan-out, not through a poll.
const promptly = 10 * time.Second

// broker is what carries the fan-out in a test: how to configure the
// replicas for it, and how to find and kill their listening connections.
type broker struct {
	configure func(*server.Config)
	// listeners returns the ids of the connections listening for the
	// replicas of this test.
	listeners func(t *testing.T) []string
	// kill drops the connections ids name.
	kill func(t *testing.T, ids []string)
}

func postgresBroker(t *testing.T, dsn string) broker {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The test's schema names the channel, so only this test's replicas
	// listen on it.
	listen := `LISTEN "` + pgbus.Channel(u.Query().Get("search_path")) + `"`
	return broker{
		listeners: func(t *testing.T) []string {
			var ids []string
			rows, err := db.Query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = $2", pgbus.ApplicationName, listen)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var pid int
				if err := rows.Scan(&pid); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, strconv.Itoa(pid))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return ids
		},
		kill: func(t *testing.T, ids []string) {
			for _, id := range ids {
				if _, err := db.Exec("SELECT pg_terminate_backend($1)", id); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

func redisBroker(t *testing.T, redisURL string) broker {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	name := redisbus.ClientName + "@" + redisbus.ChannelPrefix + strconv.Itoa(opts.DB)
	return broker{
		configure: func(c *server.Config) { c.FanoutRedis = redisURL },
		listeners: func(t *testing.T) []string {
			list, err := rdb.ClientList(context.Background()).Result()
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for line := range strings.SplitSeq(list, "\n") {
				fields := map[string]string{}
				for f := range strings.FieldsSeq(line) {
					k, v, _ := strings.Cut(f, "=")
					fields[k] = v
				}
				if fields["name"] == name && fields["sub"] != "" && fields["sub"] != "0" {
					ids = append(ids, fields["id"])
				}
			}
			return ids
		},
		kill: func(t *testing.T, ids []string) {
			for _, id := range ids {
				if err := rdb.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

func TestFanoutThroughPostgresReachesAnAgentOnAnotherReplica(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	testFanout(t, dsn, postgresBroker(t, dsn))
}

func TestFanoutThroughRedisReachesAnAgentOnAnotherReplica(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	dsn := testenv.PostgresURL(t)
	testFanout(t, dsn, redisBroker(t, redisURL))
}

// testFanout runs two replicas on one datastore, an agent's stream on B,
// and checks that what is queued or pushed through A reaches it promptly,
// also after the replicas' listening connections were killed.
func testFanout(t *testing.T, dsn string, b broker) {
	const secret = "hook-secret"
	const commit = "0123456789abcdef0123456789abcdef01234567"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var keyFile string
	replica := func(c *server.Config) {
		c.Datastore = dsn
		c.WebhookSecret = secret
		c.CommandPollInterval = time.Hour
		if keyFile != "" {
			c.BootstrapAPIKeyFile = keyFile // where A wrote the admin key
		}
		if b.configure != nil {
			b.configure(c)
		}
	}
	a := startServer(t, replica)
	keyFile = filepath.Join(a.dataDir, "admin-key")
	bb := startServer(t, replica)
	user := a.user(a.adminKey)
	_, agentKey := a.registerAgent(t, "cluster")
	agent := bb.agent(agentKey)
	if _, err := agent.ReportMeta(ctx, req(&ferryv1.ReportMetaRequest{
		Version:      "v0.1.0",
		Repositories: []*ferryv1.Repository{{Id: "apps", Remote: "git@github.com:org/apps.git", Branch: "main"}},
	})); err != nil {
		t.Fatal(err)
	}
	stream := watch(ctx, t, agent)

	if _, err := user.AddApplication(ctx, req(&ferryv1.AddApplicationRequest{
		Name: "app", Agent: "cluster", GitPath: &ferryv1.GitPath{RepoId: "apps", Path: "app"},
	})); err != nil {
		t.Fatal(err)
	}
	stream.want(t, "APPLICATIONS_CHANGED after an app was added through A", func(m *ferryv1.WatchResponse) bool {
		return m.GetNotice().GetKind() == ferryv1.Notice_KIND_APPLICATIONS_CHANGED
	})

	syncThroughA := func(step string) {
		t.Helper()
		res, err := user.SyncApplication(ctx, req(&ferryv1.SyncApplicationRequest{Application: "app"}))
		if err != nil {
			t.Fatal(err)
		}
		id := res.Msg.CommandId
		stream.want(t, step+": sync command "+id, func(m *ferryv1.WatchResponse) bool {
			return m.GetCommand().GetId() == id && m.GetCommand().GetKind() == ferryv1.CommandKind_COMMAND_KIND_SYNC_APPLICATION
		})
	}
	pushToA := func(step string) {
		t.Helper()
		status, body := postHook(t, a.Addr()+"/webhooks/generic", map[string]string{"Authorization": "Bearer " + secret},
			`{"repository":"https://github.com/org/apps","branch":"main","commit":"`+commit+`"}`)
		if status != http.StatusOK || !strings.Contains(body, `"notified":1`) {
			t.Fatalf("%s: push to A = %d %s, want 200 notifying 1", step, status, body)
		}
		stream.want(t, step+": REPOSITORY_PUSHED", func(m *ferryv1.WatchResponse) bool {
			n := m.GetNotice()
			return n.GetKind() == ferryv1.Notice_KIND_REPOSITORY_PUSHED && n.GetRepositoryId() == "apps" && n.GetCommitHash() == commit
		})
	}
	syncThroughA("before")
	pushToA("before")

	ids := b.listeners(t)
	if len(ids) < 2 {
		t.Fatalf("listening connections = %v, want both replicas'", ids)
	}
	b.kill(t, ids)
	// Queued while the replicas may still be reconnecting: B's stream
	// re-reads its commands once B listens again, if the message was lost.
	syncThroughA("right after the listeners were killed")

	killed := map[string]bool{}
	for _, id := range ids {
		killed[id] = true
	}
	testenv.WaitFor(t, promptly, "both replicas listen again on new connections", func() bool {
		fresh := 0
		for _, id := range b.listeners(t) {
			if !killed[id] {
				fresh++
			}
		}
		return fresh >= 2
	})
	// Notices are not stored: this one arrives only if B listens again.
	pushToA("after reconnecting")
	syncThroughA("after reconnecting")

	metrics := func(s *testServer) string {
		res, err := http.Get(s.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, c := range []struct {
		replica string
		s       *testServer
		want    []string
	}{
		// One application change, three syncs and two pushes.
		{"A", a, []string{`ferry_fanout_sent_total{result="ok"} 6`, `ferry_fanout_reconnects_total 1`}},
		{"B", bb, []string{`ferry_fanout_received_total{result="delivered"}`, `ferry_fanout_reconnects_total 1`}},
	} {
		m := metrics(c.s)
		for _, want := range c.want {
			if !strings.Contains(m, want) {
				t.Errorf("%s's /metrics lacks %s", c.replica, want)
			}
		}
	}
}

// stream reads an agent's Watch stream in the background.
type stream struct {
	msgs chan *ferryv1.WatchResponse
	errc chan error
}

// watch opens the agent's stream and waits for its ready notice.
func watch(ctx context.Context, t *testing.T, agent ferryv1connect.AgentServiceClient) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	st, err := agent.Watch(ctx, req(&ferryv1.WatchRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{msgs: make(chan *ferryv1.WatchResponse, 64), errc: make(chan error, 1)}
	go func() {
		for st.Receive() {
			s.msgs <- st.Msg()
		}
		s.errc <- st.Err()
	}()
	s.want(t, "the ready notice", func(m *ferryv1.WatchResponse) bool {
		return m.GetNotice() != nil && m.GetNotice().GetKind() == ferryv1.Notice_KIND_UNSPECIFIED
	})
	return s
}

// want waits, at most promptly, for a message that match accepts; the
// messages before it are logged and skipped.
func (s *stream) want(t *testing.T, what string, match func(*ferryv1.WatchResponse) bool) {
	t.Helper()
	timeout := time.After(promptly)
	for {
		select {
		case m := <-s.msgs:
			if match(m) {
				return
			}
			t.Logf("while waiting for %s, skipped %v", what, m)
		case err := <-s.errc:
			t.Fatalf("stream ended waiting for %s: %v", what, err)
		case <-timeout:
			t.Fatalf("%s did not arrive within %s", what, promptly)
		}
	}
}
