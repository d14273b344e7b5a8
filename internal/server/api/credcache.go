package api

import (
	"context"
	"sync"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// credentialTTL bounds how long a replica trusts what it last read of an
// agent's keys and disabled flag. Every agent call authenticates, and
// reading the agent each time was the largest cost of the agents' hot path.
// Changes made through this replica (disable, rotate) apply at once, since
// they call Forget; changes made through another replica apply within this
// time.
const credentialTTL = 2 * time.Second

// agentCredentials caches agents for authentication. It is safe for
// concurrent use.
type agentCredentials struct {
	store store.AgentStore
	now   func() time.Time

	mu sync.Mutex
	m  map[string]cachedAgent
}

type cachedAgent struct {
	agent *model.Agent
	read  time.Time
}

func newAgentCredentials(st store.AgentStore, now func() time.Time) *agentCredentials {
	return &agentCredentials{store: st, now: now, m: map[string]cachedAgent{}}
}

// get returns the agent, from the cache when read less than credentialTTL
// ago. The returned agent must not be modified.
func (c *agentCredentials) get(ctx context.Context, id string) (*model.Agent, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Sub(e.read) < credentialTTL {
		return e.agent, nil
	}
	a, err := c.store.GetAgent(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10000 { // bound memory against callers inventing ids
		clear(c.m)
	}
	c.m[id] = cachedAgent{agent: a, read: now}
	c.mu.Unlock()
	return a, nil
}

// forget drops the cached agent, so its next call reads it again.
func (c *agentCredentials) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
