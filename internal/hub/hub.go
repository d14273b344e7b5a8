// Package hub delivers commands and notices to the agents' streams the
// moment they are queued, on whichever control-plane replica each stream is
// connected to, and tells the console's live pages, on every replica, when
// something they show was stored (a Change).
//
// A Hub holds the streams connected to this replica: the agents' by agent
// id, the console's by project (changes.go). A Bus carries an item or a
// change to the hubs of every replica: Local for a single replica (SQLite), Relay
// over a Transport for several (PostgreSQL LISTEN/NOTIFY in package pgbus,
// Redis pub/sub in package redisbus). See docs/design/0002-fanout.md.
//
// The hub is an accelerator, not the record: every command is stored first,
// and an agent's stream also re-reads its unhandled commands on a timer, so a
// command whose message was lost (a replica reconnecting to the broker, a
// slow subscriber) still arrives within one poll interval. Likewise every
// change is stored before it is published, and a console stream re-reads
// on a slow timer too.
package hub

import (
	"sync"

	"github.com/ferrycd/ferry/internal/model"
)

// Item is what a subscriber receives: a command, a notice, or a request to
// re-read the agent's stored commands.
type Item struct {
	Command *model.Command
	Notice  *Notice
	// Recheck asks the stream to re-read its agent's unhandled commands
	// from the datastore now: a command was queued on another replica
	// (which sends its id, not the command), or messages may have been
	// missed while this replica was reconnecting to the broker.
	Recheck bool
}

// Notice tells an agent that something it may care about changed.
type Notice struct {
	Kind         NoticeKind
	RepositoryID string
	Branch       string
	CommitHash   string
}

// NoticeKind names a notice.
type NoticeKind int

// The notice kinds.
const (
	NoticeRepositoryPushed NoticeKind = iota + 1
	NoticeApplicationsChanged
)

// subscriberBuffer is how many items may wait for a slow subscriber before
// new ones are dropped for it (the poll picks up dropped commands).
const subscriberBuffer = 64

// Hub fans items out to subscribers by agent id, and changes to the
// console's streams by project. The zero value is not
// usable; call New. Methods are safe for concurrent use.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan Item]struct{}

	changes changeWatchers
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{subs: map[string]map[chan Item]struct{}{}}
}

// Subscribe returns a channel of the items published for agentID and a
// function that ends the subscription and closes the channel.
func (h *Hub) Subscribe(agentID string) (<-chan Item, func()) {
	ch := make(chan Item, subscriberBuffer)
	h.mu.Lock()
	if h.subs[agentID] == nil {
		h.subs[agentID] = map[chan Item]struct{}{}
	}
	h.subs[agentID][ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[agentID], ch)
			if len(h.subs[agentID]) == 0 {
				delete(h.subs, agentID)
			}
			h.mu.Unlock()
			close(ch)
		})
	}
}

// Publish sends it to every subscriber of agentID without blocking; it
// reports how many received it.
func (h *Hub) Publish(agentID string, it Item) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for ch := range h.subs[agentID] {
		select {
		case ch <- it:
			n++
		default:
		}
	}
	return n
}

// Broadcast sends it to every subscriber of every agent without blocking;
// it reports how many received it.
func (h *Hub) Broadcast(it Item) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, subs := range h.subs {
		for ch := range subs {
			select {
			case ch <- it:
				n++
			default:
			}
		}
	}
	return n
}

// Connected reports how many streams agentID holds on this replica.
func (h *Hub) Connected(agentID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[agentID])
}
