package controlplane_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// newAgent registers an agent with one application and returns a client
// for it.
func newAgent(t *testing.T, p *servertest.ControlPlane) *controlplane.Client {
	_, key := p.RegisterAgent("dev")
	c := controlplane.New(p.URL(), key, controlplane.Options{
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)), MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	if _, err := p.User().AddApplication(context.Background(), connect.NewRequest(&ferryv1.AddApplicationRequest{
		Name: "web", Agent: "dev", GitPath: &ferryv1.GitPath{RepoId: "apps", Path: "web"},
	})); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHeartbeatMakesTheAgentOnlineWithItsMeta(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := servertest.Start(t)
	c := newAgent(t, p)
	hb := &controlplane.Heartbeat{Client: c, Interval: time.Hour, Meta: &ferryv1.ReportMetaRequest{
		Version:           "v-test",
		PlatformProviders: []*ferryv1.PlatformProvider{{Name: "local", Type: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES}},
	}}
	done := make(chan error, 1)
	go func() { done <- hb.Start(ctx) }()
	testenv.WaitFor(t, 10*time.Second, "the agent shows ONLINE with its meta", func() bool {
		res, err := p.User().GetAgent(ctx, connect.NewRequest(&ferryv1.GetAgentRequest{Agent: "dev"}))
		if err != nil {
			t.Fatal(err)
		}
		a := res.Msg.Agent
		return a.Status == ferryv1.ConnectionStatus_CONNECTION_STATUS_ONLINE && a.Version == "v-test" && len(a.PlatformProviders) == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("heartbeat after cancel: %v", err)
	}
}

func TestAWrongKeyIsRefusedNotRetriedForever(t *testing.T) {
	p := servertest.Start(t)
	c := controlplane.New(p.URL(), "nope.nope", controlplane.Options{})
	hb := &controlplane.Heartbeat{Client: c, Meta: &ferryv1.ReportMetaRequest{}}
	err := hb.Start(context.Background())
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("heartbeat with a wrong key = %v, want unauthenticated", err)
	}
}

func TestStreamDeliversCommandsAndSurvivesAControlPlaneRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := servertest.Start(t)
	c := newAgent(t, p)
	connected := make(chan struct{}, 4)
	commands := make(chan *ferryv1.Command, 4)
	s := &controlplane.Stream{
		Client:    c,
		OnConnect: func(context.Context) { connected <- struct{}{} },
		Handle: func(_ context.Context, item *ferryv1.WatchResponse) error {
			if cmd := item.GetCommand(); cmd != nil {
				commands <- cmd
			}
			return nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	<-connected

	sync := func() string {
		res, err := p.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "web"}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.CommandId
	}
	want := sync()
	if got := <-commands; got.Id != want || got.Kind != ferryv1.CommandKind_COMMAND_KIND_SYNC_APPLICATION {
		t.Fatalf("first command = %v, want sync %s", got, want)
	}
	// Handled commands are not delivered again.
	if _, err := c.ReportCommandHandled(ctx, connect.NewRequest(&ferryv1.ReportCommandHandledRequest{
		CommandId: want, Status: ferryv1.CommandStatus_COMMAND_STATUS_SUCCEEDED,
	})); err != nil {
		t.Fatal(err)
	}

	// While the control plane is away, a report waits and then goes through.
	p.Stop()
	reported := make(chan error, 1)
	go func() {
		_, err := c.Heartbeat(ctx, connect.NewRequest(&ferryv1.HeartbeatRequest{}))
		reported <- err
	}()
	p.Start()
	if err := <-reported; err != nil {
		t.Errorf("heartbeat across the restart: %v", err)
	}
	<-connected // the stream came back by itself
	want = sync()
	if got := <-commands; got.Id != want {
		t.Fatalf("command after restart = %v, want %s", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stream after cancel: %v", err)
	}
}
