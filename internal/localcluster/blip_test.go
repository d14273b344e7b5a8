package localcluster_test

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/testenv"
)

// A node whose kwok stops renewing its Lease — here kwok is paused, as a
// busy machine starves it — is marked NotReady and its pods unready by the
// node lifecycle controller. Once kwok runs again the node and every pod
// turn Ready again and the Deployment is available, with nothing but the
// cluster's own parts at work. The cluster gets a short grace period so
// that the blip comes within seconds.
func TestPodsTurnReadyAgainAfterTheirNodeMissedItsLease(t *testing.T) {
	ctx := context.Background()
	c, err := localcluster.Start(ctx, localcluster.Options{
		BinDir: testenv.KubeBinDir(t), NodeMonitorGracePeriod: 3 * time.Second,
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	node := localcluster.NodeName(0)

	// kwok keeps the node's Lease: its renew time moves on.
	first := leaseRenewTime(t, cs, node)
	waitUntil(t, time.Minute, "kwok to renew the node's Lease", func(ctx context.Context) (bool, error) {
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(first), err
	})

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "blip"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("blip").Create(ctx, deployment("web", "registry.example/web:1.0", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, cs, "blip", "web")

	kwok := process(t, c, "kwok")
	if err := syscall.Kill(kwok.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(kwok.PID, syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	waitUntil(t, 2*time.Minute, "the node to be NotReady, its pods unready and the Deployment unavailable", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil || nodeCondition(n, corev1.NodeReady) == corev1.ConditionTrue {
			return false, err
		}
		d, err := cs.AppsV1().Deployments("blip").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas != 0 {
			return false, err
		}
		pods, err := cs.CoreV1().Pods("blip").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range pods.Items {
			if podReady(&pods.Items[i]) {
				return false, nil
			}
		}
		return len(pods.Items) == 2, nil
	})

	resume()
	waitUntil(t, 2*time.Minute, "the node to be Ready again", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		return err == nil && nodeCondition(n, corev1.NodeReady) == corev1.ConditionTrue, err
	})
	waitRolledOut(t, cs, "blip", "web")
	assertPodImages(t, cs, "blip", "registry.example/web:1.0", 2)
}

// leaseRenewTime returns the renew time of node's Lease, which Start saw.
func leaseRenewTime(t *testing.T, cs kubernetes.Interface, node string) time.Time {
	t.Helper()
	l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil || l.Spec.RenewTime == nil {
		t.Fatalf("node lease %s = %+v, want a holder and a renew time", node, l.Spec)
	}
	return l.Spec.RenewTime.Time
}

// process returns the cluster's process called name.
func process(t *testing.T, c *localcluster.Cluster, name string) *localcluster.Process {
	t.Helper()
	for _, p := range c.State().Processes {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("the cluster runs no %s", name)
	return nil
}

// nodeCondition returns the status of n's condition of type ct.
func nodeCondition(n *corev1.Node, ct corev1.NodeConditionType) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == ct {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}
