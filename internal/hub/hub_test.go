package hub

import (
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

func TestPublishReachesOnlyTheAgentsSubscribers(t *testing.T) {
	h := New()
	a, cancelA := h.Subscribe("a")
	defer cancelA()
	b, cancelB := h.Subscribe("b")
	defer cancelB()

	if n := h.Publish("a", Item{Command: &model.Command{ID: "c1"}}); n != 1 {
		t.Fatalf("Publish reached %d subscribers, want 1", n)
	}
	if got := (<-a).Command.ID; got != "c1" {
		t.Errorf("a got %q, want c1", got)
	}
	select {
	case it := <-b:
		t.Errorf("b got %+v, want nothing", it)
	default:
	}
}

func TestSlowSubscriberNeverBlocksPublish(t *testing.T) {
	h := New()
	_, cancel := h.Subscribe("a")
	defer cancel()
	for i := 0; i < subscriberBuffer*2; i++ {
		h.Publish("a", Item{Notice: &Notice{Kind: NoticeApplicationsChanged}})
	}
	if n := h.Publish("a", Item{}); n != 0 {
		t.Errorf("full subscriber received, n = %d", n)
	}
}

func TestCancelClosesAndUnsubscribes(t *testing.T) {
	h := New()
	ch, cancel := h.Subscribe("a")
	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Error("channel still open after cancel")
	}
	if h.Connected("a") != 0 {
		t.Error("still connected after cancel")
	}
}
