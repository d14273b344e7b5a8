package hub

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// woken reports whether ch holds a signal, taking it.
func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitWoken waits for a signal on ch.
func waitWoken(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestAChangeWakesOnlyTheStreamsItConcerns(t *testing.T) {
	h := New()
	const p = "proj"
	streams := map[string]ChangeFilter{
		"applications list": {ProjectID: p, What: ChangeApplication | ChangeAgent},
		"application a1":    {ProjectID: p, ApplicationID: "a1", What: ChangeApplication | ChangeLiveState},
		"deployments list":  {ProjectID: p, What: ChangeDeployment},
		"deployment d1":     {ProjectID: p, DeploymentID: "d1", What: ChangeDeployment | ChangeStage},
		"stage log of d1":   {ProjectID: p, DeploymentID: "d1", What: ChangeLog | ChangeStage | ChangeDeployment},
		"another project":   {ProjectID: "other", What: ChangeApplication | ChangeDeployment | ChangeLog},
	}
	chans := map[string]<-chan struct{}{}
	for name, f := range streams {
		ch, cancel := h.WatchChanges(f)
		defer cancel()
		chans[name] = ch
	}
	for _, tc := range []struct {
		change Change
		want   []string
	}{
		{Change{ProjectID: p, ApplicationID: "a1", DeploymentID: "d1", What: ChangeStage}, []string{"deployment d1", "stage log of d1"}},
		{Change{ProjectID: p, ApplicationID: "a1", DeploymentID: "d1", What: ChangeLog}, []string{"stage log of d1"}},
		{Change{ProjectID: p, ApplicationID: "a2", DeploymentID: "d2", What: ChangeStage | ChangeLog}, nil},
		{Change{ProjectID: p, ApplicationID: "a1", DeploymentID: "d1", What: ChangeDeployment | ChangeApplication}, []string{"applications list", "application a1", "deployments list", "deployment d1", "stage log of d1"}},
		{Change{ProjectID: p, ApplicationID: "a2", What: ChangeApplication}, []string{"applications list"}},
		{Change{ProjectID: p, ApplicationID: "a1", What: ChangeLiveState}, []string{"application a1"}},
		{Change{ProjectID: p, What: ChangeAgent}, []string{"applications list"}},
		// A change for the whole project (a relay with too many pending)
		// concerns every application and deployment of it.
		{Change{ProjectID: p, What: ChangeStage}, []string{"deployment d1", "stage log of d1"}},
		{Change{ProjectID: "third", What: ChangeApplication}, nil},
	} {
		n := h.PublishChange(tc.change)
		var got []string
		for name, ch := range chans {
			if woken(ch) {
				got = append(got, name)
			}
		}
		if diff := cmp.Diff(tc.want, got, cmpSorted); diff != "" {
			t.Errorf("%+v woke (-want +got):\n%s", tc.change, diff)
		}
		if n != len(tc.want) {
			t.Errorf("%+v: PublishChange = %d, want %d", tc.change, n, len(tc.want))
		}
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestABurstOfChangesWakesAStreamOnce(t *testing.T) {
	h := New()
	ch, cancel := h.WatchChanges(ChangeFilter{ProjectID: "p"})
	for range 100 {
		h.PublishChange(Change{ProjectID: "p", DeploymentID: "d", What: ChangeLog})
	}
	if !woken(ch) {
		t.Fatal("the stream was not woken")
	}
	if woken(ch) {
		t.Error("the stream was woken twice for one burst")
	}
	cancel()
	cancel() // idempotent
	if n := h.PublishChange(Change{ProjectID: "p", What: ChangeLog}); n != 0 {
		t.Errorf("a cancelled stream was woken (%d)", n)
	}
}

// countingTransport is a brokerTransport that counts what it sends.
type countingTransport struct {
	brokerTransport
	mu   sync.Mutex
	sent [][]byte
}

func (t *countingTransport) Send(ctx context.Context, payload []byte) error {
	t.mu.Lock()
	t.sent = append(t.sent, payload)
	t.mu.Unlock()
	return t.brokerTransport.Send(ctx, payload)
}

func (t *countingTransport) messages() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.sent...)
}

// running returns n relays on one broker, each over its own hub and
// running until the test ends, and the transports they send through.
func running(t *testing.T, n int) ([]*Relay, []*Hub, []*countingTransport) {
	t.Helper()
	rs, hs := replicas(t, n)
	var ts []*countingTransport
	for _, r := range rs {
		ct := &countingTransport{brokerTransport: r.transport.(brokerTransport)}
		r.transport = ct
		ts = append(ts, ct)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := r.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	return rs, hs, ts
}

func TestAChangeReachesTheConsoleStreamsOfEveryReplica(t *testing.T) {
	rs, hs, _ := running(t, 2)
	here, cancelHere := hs[0].WatchChanges(ChangeFilter{ProjectID: "p", DeploymentID: "d1", What: ChangeStage})
	defer cancelHere()
	there, cancelThere := hs[1].WatchChanges(ChangeFilter{ProjectID: "p", DeploymentID: "d1", What: ChangeStage})
	defer cancelThere()
	elsewhere, cancelElsewhere := hs[1].WatchChanges(ChangeFilter{ProjectID: "p", DeploymentID: "d2", What: ChangeStage})
	defer cancelElsewhere()

	rs[0].PublishChange(Change{ProjectID: "p", ApplicationID: "a", DeploymentID: "d1", What: ChangeStage})
	if !woken(here) {
		t.Error("the publishing replica's stream was not woken at once")
	}
	waitWoken(t, there, "the other replica's stream")
	if woken(elsewhere) {
		t.Error("the stream of another deployment was woken")
	}
	// Agents' streams hear nothing of it.
	agent, cancelAgent := hs[1].Subscribe("agent")
	defer cancelAgent()
	rs[0].PublishChange(Change{ProjectID: "p", DeploymentID: "d1", What: ChangeStage})
	waitWoken(t, there, "the second change on the other replica")
	if got := drain(agent); len(got) != 0 {
		t.Errorf("an agent's stream got %v", got)
	}
}

func TestABurstOfChangesCostsTheBrokerFewMessages(t *testing.T) {
	rs, hs, ts := running(t, 2)
	there, cancel := hs[1].WatchChanges(ChangeFilter{ProjectID: "p", What: ChangeLog})
	defer cancel()

	const burst = 1000
	start := time.Now()
	for i := range burst {
		// Ten deployments' logs, a hundred appends each.
		rs[0].PublishChange(Change{ProjectID: "p", ApplicationID: "a", DeploymentID: "d" + strconv.Itoa(i%10), What: ChangeLog})
	}
	elapsed := time.Since(start)
	// The last change goes out at most a gap after the burst; a marker
	// published after it arrives after it.
	marker, cancelMarker := hs[1].WatchChanges(ChangeFilter{ProjectID: "marker"})
	defer cancelMarker()
	rs[0].PublishChange(Change{ProjectID: "marker", What: ChangeAgent})
	waitWoken(t, marker, "the marker after the burst")

	// One message per gap at most (each carries the ten deployments'
	// changes), plus the first, sent at once, and the marker's.
	msgs := ts[0].messages()
	if limit := 3 + int(elapsed/ChangeFlushGap); len(msgs) > limit {
		t.Errorf("%d changes published in %s went in %d messages, want at most %d", burst, elapsed, len(msgs), limit)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		var decoded message
		if err := json.Unmarshal(m, &decoded); err != nil {
			t.Fatal(err)
		}
		for _, c := range decoded.Changes {
			seen[c.DeploymentID] = true
		}
	}
	for i := range 10 {
		if !seen["d"+strconv.Itoa(i)] {
			t.Errorf("no message named deployment d%d", i)
		}
	}
	waitWoken(t, there, "the other replica's stream")
}

func TestManyChangesAreSplitIntoMessagesABrokerCarries(t *testing.T) {
	var cs []Change
	for i := range 200 {
		cs = append(cs, Change{ProjectID: "project", ApplicationID: strings.Repeat("a", 26), DeploymentID: "deployment-" + strconv.Itoa(i), What: ChangeStage | ChangeLog})
	}
	payloads, err := encodeChanges("origin", cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) < 2 {
		t.Fatalf("200 changes went in %d message(s), want them split", len(payloads))
	}
	var got []Change
	for _, p := range payloads {
		if len(p) > MaxPayload {
			t.Errorf("a message is %d bytes, more than %d", len(p), MaxPayload)
		}
		m, err := decode(p)
		if err != nil {
			t.Fatal(err)
		}
		part, unknown := m.changes()
		if unknown != 0 {
			t.Errorf("%d changes decoded as unknown", unknown)
		}
		got = append(got, part...)
	}
	if diff := cmp.Diff(cs, got); diff != "" {
		t.Errorf("changes after the round trip (-want +got):\n%s", diff)
	}
}

func TestChangesStayCompatibleBetweenVersions(t *testing.T) {
	payloads, err := encodeChanges("B", []Change{{ProjectID: "p", DeploymentID: "d", What: ChangeStage}})
	if err != nil {
		t.Fatal(err)
	}
	// A version-1 replica requires an agent and knows no changes: it sees
	// a message for an agent that has no stream, and drops it quietly.
	var v1 struct {
		Origin  string `json:"o"`
		AgentID string `json:"a"`
	}
	if err := json.Unmarshal(payloads[0], &v1); err != nil {
		t.Fatal(err)
	}
	if v1.Origin != "B" || v1.AgentID != changesAgent {
		t.Errorf("a message of changes reads to a version-1 replica as origin %q, agent %q; want B and %q", v1.Origin, v1.AgentID, changesAgent)
	}

	rs, hs := replicas(t, 1)
	ch, cancel := hs[0].WatchChanges(ChangeFilter{ProjectID: "p"})
	defer cancel()
	agent, cancelAgent := hs[0].Subscribe(changesAgent)
	defer cancelAgent()
	// A newer replica's kind of change is dropped; its other fields and
	// the known kinds beside it are not.
	rs[0].Receive([]byte(`{"v":3,"o":"B","a":"-","ch":[{"p":"p","w":["hologram"]}]}`))
	if woken(ch) {
		t.Error("a change of an unknown kind woke a stream")
	}
	rs[0].Receive([]byte(`{"v":3,"o":"B","a":"-","ch":[{"p":"p","d":"d","w":["hologram","stage"],"x":1}],"priority":"high"}`))
	if !woken(ch) {
		t.Error("a change of a known kind beside an unknown one did not wake the stream")
	}
	// Its own changes were delivered when published.
	rs[0].Receive([]byte(`{"v":2,"o":"A","a":"-","ch":[{"p":"p","w":["stage"]}]}`))
	if woken(ch) {
		t.Error("a replica's own change, echoed by the broker, woke a stream again")
	}
	if got := drain(agent); len(got) != 0 {
		t.Errorf("messages of changes reached an agent's stream: %v", got)
	}
}

func TestResyncWakesEveryConsoleStream(t *testing.T) {
	rs, hs := replicas(t, 1)
	a, cancelA := hs[0].WatchChanges(ChangeFilter{ProjectID: "p", DeploymentID: "d", What: ChangeLog})
	defer cancelA()
	b, cancelB := hs[0].WatchChanges(ChangeFilter{ProjectID: "q", What: ChangeApplication})
	defer cancelB()
	rs[0].Resync()
	if !woken(a) || !woken(b) {
		t.Error("a console stream was not woken by the resync")
	}
}
