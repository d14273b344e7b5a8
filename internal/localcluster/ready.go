package localcluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// pollInterval is how often waitFor checks its condition: short, because
// Start's total time is the sum of a handful of these waits.
const pollInterval = 50 * time.Millisecond

// waitReady waits until the cluster takes workloads: the default service
// account exists (so the controller manager runs), the scheduler holds its
// lease, and every node is Ready, untainted and has its Lease held (so kwok
// runs, keeps the nodes alive and pods can be scheduled).
func (c *Cluster) waitReady(ctx context.Context, cs kubernetes.Interface) error {
	if err := c.waitFor(ctx, "the default service account", "kube-controller-manager", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	}); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "the scheduler's lease", "kube-scheduler", func(ctx context.Context) (bool, error) {
		l, err := cs.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, "kube-scheduler", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", ignoreNotFound(err)
	}); err != nil {
		return err
	}
	return c.waitFor(ctx, fmt.Sprintf("%d Ready, untainted node(s) with a Lease", c.state.Nodes), "kwok", func(ctx context.Context) (bool, error) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		leases, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		held := map[string]bool{}
		for _, l := range leases.Items {
			held[l.Name] = l.Spec.HolderIdentity != nil && l.Spec.RenewTime != nil
		}
		ready := 0
		for i := range nodes.Items {
			if nodeReady(&nodes.Items[i]) && held[nodes.Items[i].Name] {
				ready++
			}
		}
		return ready >= c.state.Nodes, nil
	})
}

// nodeReady reports whether n is Ready and carries no taint.
func nodeReady(n *corev1.Node) bool {
	if len(n.Spec.Taints) > 0 {
		return false
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitFor polls cond until it holds, ctx ends, or a process of the cluster
// exits. Errors from cond are retried (the API server may still be coming
// up) and reported if the wait times out. The error names what it waited
// for and ends with the tail of the log of component, the process
// responsible for the condition, or of the process that exited.
func (c *Cluster) waitFor(ctx context.Context, what, component string, cond func(context.Context) (bool, error)) error {
	start := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		for _, p := range c.state.Processes {
			if !p.Alive() {
				return fmt.Errorf("wait for %s: %w", what, p.exitError())
			}
		}
		ok, err := cond(ctx)
		if ok {
			c.log.Debug("local cluster condition met", "condition", what, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			fmt.Fprintf(&b, "wait for %s: %v after %s", what, context.Cause(ctx), time.Since(start).Round(time.Millisecond))
			if lastErr != nil {
				fmt.Fprintf(&b, " (last error: %v)", lastErr)
			}
			for _, p := range c.state.Processes {
				if p.Name == component {
					fmt.Fprintf(&b, "; last lines of %s:\n%s", p.Log, p.logTail(25))
				}
			}
			return errors.New(b.String())
		case <-tick.C:
		}
	}
}

// ignoreNotFound returns nil for a NotFound error, which a wait expects.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
