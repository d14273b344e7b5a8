package api

import (
	"context"
	"sync"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// ownerCache remembers which agent owns a deployment, and the project and
// application it belongs to. None of them ever changes, so the stage and
// log calls, the agents' hottest path, check ownership and name the change
// they make without reading the deployment each time.
type ownerCache struct {
	mu sync.Mutex
	m  map[string]deploymentOwner
}

// deploymentOwner is what ownerCache keeps of a deployment.
type deploymentOwner struct {
	agentID, projectID, appID string
}

// ownerCacheMax bounds the cache; when full it starts over, which costs one
// read per deployment afterwards.
const ownerCacheMax = 100_000

// check returns what the cache keeps of the deployment if agentID owns it,
// and a not-found error otherwise.
func (c *ownerCache) check(ctx context.Context, st store.Store, deploymentID, agentID string) (deploymentOwner, error) {
	c.mu.Lock()
	owner, ok := c.m[deploymentID]
	c.mu.Unlock()
	if !ok {
		d, err := st.GetDeployment(ctx, deploymentID)
		if err != nil {
			return deploymentOwner{}, err
		}
		owner = c.remember(d)
	}
	if owner.agentID != agentID {
		return deploymentOwner{}, model.NotFound("deployment", deploymentID)
	}
	return owner, nil
}

func (c *ownerCache) remember(d *model.Deployment) deploymentOwner {
	owner := deploymentOwner{agentID: d.AgentID, projectID: d.ProjectID, appID: d.ApplicationID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= ownerCacheMax {
		c.m = map[string]deploymentOwner{}
	}
	c.m[d.ID] = owner
	return owner
}

// change names a change of what of the deployment id.
func (o deploymentOwner) change(id string, what hub.ChangeKind) hub.Change {
	return hub.Change{ProjectID: o.projectID, ApplicationID: o.appID, DeploymentID: id, What: what}
}
