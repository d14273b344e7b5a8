package localcluster

import (
	"path/filepath"
	"strconv"
	"time"
)

// The components' command lines. Only etcd and the API server listen, on
// 127.0.0.1 and the ports Start picked; the controller manager and the
// scheduler serve nothing (--secure-port=0), so they need no ports or
// certificates of their own. Nothing is written outside the cluster's
// directory.

// etcdArgs runs a single-member etcd. Without fsync a crash can lose recent
// writes, which a throwaway cluster does not mind and which makes it several
// times faster on ordinary disks. Raft ticks ten times faster than by
// default so that the lone member elects itself within 250ms rather than up
// to a second: a second of every test package's start-up.
func (c *Cluster) etcdArgs(clientURL string) []string {
	peerURL := "http://127.0.0.1:" + strconv.Itoa(c.state.Ports.EtcdPeer)
	return []string{
		"--name=ferry",
		"--data-dir=" + filepath.Join(c.dir, "etcd", "data"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=ferry=" + peerURL,
		"--unsafe-no-fsync",
		"--heartbeat-interval=25",
		"--election-timeout=250",
		"--log-level=warn",
	}
}

// apiserverArgs authenticates clients by token only (the admin, the
// controller manager, the scheduler and kwok each have one) and authorizes
// with Node and RBAC, as a production cluster does.
func (c *Cluster) apiserverArgs(etcdURL string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.state.Ports.APIServer),
		"--cert-dir=" + filepath.Join(c.dir, "apiserver"),
		"--tls-cert-file=" + c.pki.certFile,
		"--tls-private-key-file=" + c.pki.keyFile,
		"--token-auth-file=" + c.pki.tokens,
		"--authorization-mode=Node,RBAC",
		"--service-account-key-file=" + c.pki.saPub,
		"--service-account-signing-key-file=" + c.pki.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}
}

// controllerManagerArgs runs every default controller, each with its own
// service account's credentials, with client rate limits raised so that
// rollouts are limited by the controllers, not by a 20-QPS client. The node
// lifecycle controller marks a node NotReady (and its pods unready) only
// after c.grace without a lease renewal, and looks every monitorPeriod.
func (c *Cluster) controllerManagerArgs() []string {
	return []string{
		"--node-monitor-grace-period=" + c.grace.String(),
		"--node-monitor-period=" + monitorPeriod(c.grace).String(),
		"--kubeconfig=" + filepath.Join(c.dir, "controller-manager.kubeconfig"),
		"--secure-port=0",
		"--controllers=*",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + c.pki.saKey,
		"--root-ca-file=" + c.pki.certFile,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--kube-api-qps=500",
		"--kube-api-burst=1000",
		"--profiling=false",
		"--v=1",
	}
}

// schedulerArgs keeps leader election on: the Lease it takes once its
// caches are synced is how Start knows the scheduler is working.
func (c *Cluster) schedulerArgs() []string {
	return []string{
		"--kubeconfig=" + filepath.Join(c.dir, "scheduler.kubeconfig"),
		"--secure-port=0",
		"--kube-api-qps=500",
		"--kube-api-burst=1000",
		"--profiling=false",
		"--v=1",
	}
}

// kwokArgs makes kwok manage only the nodes Start creates (annotated
// NodeAnnotation=fake) and their pods, with the fast stages build.sh copied
// and then own, Ferry's stages (see stages/): nodes turn Ready, pods turn
// Ready at once, complete, go away when deleted, and turn Ready again after
// a node blip made them unready.
//
// kwok keeps each node's Lease in kube-node-lease, renewed every quarter of
// its duration as a kubelet does. Without
// --node-lease-duration-seconds it keeps none, and its only node heartbeat
// is the node-heartbeat-with-lease stage's status update every 10 to 20
// minutes, so the node lifecycle controller saw every node miss its
// heartbeat one grace period after start.
func (c *Cluster) kwokArgs(own []string) []string {
	args := []string{
		"--kubeconfig=" + filepath.Join(c.dir, "kwok.kubeconfig"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + NodeAnnotation + "=fake",
		"--cidr=10.244.0.1/16",
		"--node-ip=127.0.0.1",
		"--node-lease-duration-seconds=" + strconv.Itoa(leaseSeconds(c.grace)),
	}
	for _, s := range stageFiles {
		args = append(args, "--config="+filepath.Join(stagesDir(c.binDir), s))
	}
	for _, s := range own {
		args = append(args, "--config="+s)
	}
	return args
}

// leaseSeconds is the node Lease duration for a grace period: a third of
// it, at least a second. With the default grace of two minutes that is a
// kubelet's 40 seconds, renewed every 10, so a node is marked NotReady only
// after about a dozen renewals in a row went missing.
func leaseSeconds(grace time.Duration) int {
	return max(1, int(grace/3/time.Second))
}

// monitorPeriod is how often the node lifecycle controller checks nodes:
// Kubernetes' 5 seconds, or half the grace period when that is shorter.
func monitorPeriod(grace time.Duration) time.Duration {
	return min(5*time.Second, grace/2)
}
