package api

import (
	"context"
	"sync"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// ownerCache remembers which agent owns a deployment. Ownership never
// changes, so the stage and log calls, the agents' hottest path, check it
// without reading the deployment each time.
type ownerCache struct {
	mu sync.Mutex
	m  map[string]string
}

// ownerCacheMax bounds the cache; when full it starts over, which costs one
// read per deployment afterwards.
const ownerCacheMax = 100_000

func (c *ownerCache) check(ctx context.Context, st store.Store, deploymentID, agentID string) error {
	c.mu.Lock()
	owner, ok := c.m[deploymentID]
	c.mu.Unlock()
	if !ok {
		d, err := st.GetDeployment(ctx, deploymentID)
		if err != nil {
			return err
		}
		owner = d.AgentID
		c.remember(deploymentID, owner)
	}
	if owner != agentID {
		return model.NotFound("deployment", deploymentID)
	}
	return nil
}

func (c *ownerCache) remember(deploymentID, agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= ownerCacheMax {
		c.m = map[string]string{}
	}
	c.m[deploymentID] = agentID
}
