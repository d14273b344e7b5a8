package hub

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

// broker is an in-memory channel shared by the relays of a test, standing
// in for PostgreSQL or Redis (whose transports have their own tests against
// real servers): every payload sent reaches every relay, its sender too.
type broker struct {
	mu     sync.Mutex
	relays []Receiver
}

type brokerTransport struct{ b *broker }

func (t brokerTransport) Send(_ context.Context, payload []byte) error {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	for _, r := range t.b.relays {
		r.Receive(payload)
	}
	return nil
}

func (t brokerTransport) Listen(ctx context.Context, _ Receiver) error { <-ctx.Done(); return nil }
func (t brokerTransport) Close() error                                 { return nil }

// replicas returns n relays on one broker, each over its own hub.
func replicas(t *testing.T, n int) ([]*Relay, []*Hub) {
	b := &broker{}
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil))
	var rs []*Relay
	var hs []*Hub
	for i := range n {
		h := New()
		r := NewRelay(h, string(rune('A'+i)), brokerTransport{b}, logger)
		b.relays = append(b.relays, r)
		rs, hs = append(rs, r), append(hs, h)
	}
	return rs, hs
}

// drain returns what ch holds now.
func drain(ch <-chan Item) []Item {
	var out []Item
	for {
		select {
		case it := <-ch:
			out = append(out, it)
		default:
			return out
		}
	}
}

func TestACommandReachesTheOtherReplicaAsARecheck(t *testing.T) {
	rs, hs := replicas(t, 2)
	here, cancelHere := hs[0].Subscribe("agent")
	defer cancelHere()
	there, cancelThere := hs[1].Subscribe("agent")
	defer cancelThere()

	cmd := &model.Command{ID: "c1", AgentID: "agent", Commander: "alice"}
	if err := rs[0].Publish(context.Background(), "agent", Item{Command: cmd}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Item{{Command: cmd}}, drain(here)); diff != "" {
		t.Errorf("the publishing replica delivered (-want +got), once and whole:\n%s", diff)
	}
	if diff := cmp.Diff([]Item{{Recheck: true}}, drain(there)); diff != "" {
		t.Errorf("the other replica delivered (-want +got):\n%s", diff)
	}
}

func TestANoticeReachesEveryReplicaWhole(t *testing.T) {
	rs, hs := replicas(t, 3)
	n := &Notice{Kind: NoticeRepositoryPushed, RepositoryID: "apps", Branch: "main", CommitHash: "abc"}
	var subs []<-chan Item
	for _, h := range hs {
		ch, cancel := h.Subscribe("agent")
		defer cancel()
		subs = append(subs, ch)
	}
	other, cancel := hs[2].Subscribe("another-agent")
	defer cancel()
	if err := rs[1].Publish(context.Background(), "agent", Item{Notice: n}); err != nil {
		t.Fatal(err)
	}
	for i, ch := range subs {
		if diff := cmp.Diff([]Item{{Notice: n}}, drain(ch)); diff != "" {
			t.Errorf("replica %d delivered (-want +got):\n%s", i, diff)
		}
	}
	if got := drain(other); len(got) != 0 {
		t.Errorf("another agent's stream got %v", got)
	}
}

func TestResyncAsksEveryLocalStreamToRecheck(t *testing.T) {
	rs, hs := replicas(t, 1)
	a, cancelA := hs[0].Subscribe("a")
	defer cancelA()
	b, cancelB := hs[0].Subscribe("b")
	defer cancelB()
	rs[0].Resync()
	for name, ch := range map[string]<-chan Item{"a": a, "b": b} {
		if diff := cmp.Diff([]Item{{Recheck: true}}, drain(ch)); diff != "" {
			t.Errorf("%s got (-want +got):\n%s", name, diff)
		}
	}
}

func TestMalformedAndUnknownMessagesAreDropped(t *testing.T) {
	rs, hs := replicas(t, 1)
	ch, cancel := hs[0].Subscribe("agent")
	defer cancel()
	for _, payload := range []string{
		`not json`,
		`{"v":1,"a":"agent","c":"c1"}`,
		`{"v":1,"o":"B","c":"c1"}`,
		`{"v":2,"o":"B","a":"agent","n":{"k":"deployment_planned"}}`,
	} {
		rs[0].Receive([]byte(payload))
	}
	if got := drain(ch); len(got) != 0 {
		t.Errorf("delivered %v, want nothing", got)
	}
	// A newer replica's extra fields do not matter.
	rs[0].Receive([]byte(`{"v":2,"o":"B","a":"agent","c":"c1","priority":"high"}`))
	if diff := cmp.Diff([]Item{{Recheck: true}}, drain(ch)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestAMessageTooLargeForABrokerIsRefused(t *testing.T) {
	rs, _ := replicas(t, 1)
	err := rs[0].Publish(context.Background(), "agent", Item{Notice: &Notice{Kind: NoticeRepositoryPushed, Branch: strings.Repeat("b", MaxPayload)}})
	if err == nil || !strings.Contains(err.Error(), "more than the 4000") {
		t.Errorf("Publish = %v, want the message refused as too large", err)
	}
}

func TestBackoffStartsAtOnceThenGrowsToItsBound(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	if d := b.Delay(0); d != 0 {
		t.Errorf("Delay(0) = %v, want 0", d)
	}
	for n, bound := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 40: time.Second} {
		if d := b.Delay(n); d < bound/2 || d > bound {
			t.Errorf("Delay(%d) = %v, want within [%v, %v]", n, d, bound/2, bound)
		}
	}
}

func TestOnlyTheLossOfAStableConnectionStartsTheBackoffAfresh(t *testing.T) {
	if got := NextAttempt(3, time.Minute); got != 0 {
		t.Errorf("after a minute-long connection, attempt = %d, want 0", got)
	}
	if got := NextAttempt(3, time.Second); got != 4 {
		t.Errorf("after a second-long connection, attempt = %d, want 4", got)
	}
}
