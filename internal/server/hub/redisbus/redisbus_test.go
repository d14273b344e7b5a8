package redisbus_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/hub"
	"github.com/ferrycd/ferry/internal/server/hub/redisbus"
	"github.com/ferrycd/ferry/internal/testenv"
)

// replica is one side of the bus: a hub with a stream of agent "a"
// subscribed, and its relay over a real Redis transport.
type replica struct {
	relay  *hub.Relay
	stream <-chan hub.Item
	done   chan struct{}
}

func startReplica(t *testing.T, url, channel, origin string) *replica {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)).With("replica", origin)
	tr, err := redisbus.Open(context.Background(), url, redisbus.Options{Channel: channel, Logger: logger})
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

// subscribers returns the ids of the connections subscribed as the
// transports on channel name themselves.
func subscribers(t *testing.T, rdb *redis.Client, channel string) []string {
	t.Helper()
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
		if fields["name"] == redisbus.ClientName+"@"+channel && fields["sub"] != "0" && fields["sub"] != "" {
			ids = append(ids, fields["id"])
		}
	}
	return ids
}

func TestItemsCrossReplicasAndSurviveALostConnection(t *testing.T) {
	url := testenv.RedisURL(t)
	channel := "ferry:hub:test:" + model.NewID()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	a := startReplica(t, url, channel, "A")
	b := startReplica(t, url, channel, "B")
	ctx := context.Background()

	if err := a.relay.Publish(ctx, "a", hub.Item{Command: &model.Command{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	if got := a.next(t, "A's own command"); got.Command == nil || got.Command.ID != "c1" {
		t.Errorf("A delivered %+v, want command c1", got)
	}
	if got := b.next(t, "the command on B"); !got.Recheck {
		t.Errorf("B delivered %+v, want a recheck", got)
	}

	ids := subscribers(t, rdb, channel)
	if len(ids) != 2 {
		t.Fatalf("%d connections subscribe to %s, want 2", len(ids), channel)
	}
	for _, id := range ids {
		if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if it := a.next(t, "A's recheck after resubscribing"); !it.Recheck {
		t.Errorf("A delivered %+v after resubscribing, want a recheck", it)
	}
	if it := b.next(t, "B's recheck after resubscribing"); !it.Recheck {
		t.Errorf("B delivered %+v after resubscribing, want a recheck", it)
	}
	killed := map[string]bool{ids[0]: true, ids[1]: true}
	testenv.WaitFor(t, 10*time.Second, "both replicas subscribe again on new connections", func() bool {
		now := subscribers(t, rdb, channel)
		return len(now) == 2 && !killed[now[0]] && !killed[now[1]]
	})
	pushed := &hub.Notice{Kind: hub.NoticeRepositoryPushed, RepositoryID: "apps", Branch: "main", CommitHash: "abc"}
	if err := b.relay.Publish(ctx, "a", hub.Item{Notice: pushed}); err != nil {
		t.Fatal(err)
	}
	b.next(t, "B's own notice")
	if diff := cmp.Diff(hub.Item{Notice: pushed}, a.next(t, "the notice on A after resubscribing")); diff != "" {
		t.Errorf("A delivered (-want +got):\n%s", diff)
	}
}

func TestAnUnreachableServerFailsOpenWithoutThePassword(t *testing.T) {
	_, err := redisbus.Open(context.Background(), "redis://:s3cret@127.0.0.1:1/0?dial_timeout=2s", redisbus.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open = %v, want an error naming the server and never the password", err)
	}
}
