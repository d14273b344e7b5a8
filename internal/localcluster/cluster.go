// Package localcluster runs a real Kubernetes control plane on loopback for
// Ferry's tests, benchmarks and `ferry dev cluster` / quickstart: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler built from the
// Go module proxy by hack/kube/build.sh, plus kwok, which plays the kubelet
// for a few fake nodes. Objects really go through the API server,
// controllers and scheduler (Deployments roll out, namespaces finalise); only
// containers never run: kwok marks scheduled pods Ready.
//
// Every cluster takes free ports and its own state directory, so clusters of
// parallel test packages never meet, and a crashed run never blocks the next.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure Start. The zero value starts a one-node cluster in a
// temporary directory with the binaries FindBinDir finds.
type Options struct {
	// BinDir holds the binaries build.sh builds; empty means FindBinDir's
	// search ($FERRY_KUBE_BIN, then the default cache).
	BinDir string
	// Dir keeps the cluster's state: key material, etcd's data, process
	// logs, kubeconfigs and cluster.json. Empty means a new temporary
	// directory, removed by Stop. A Dir holding a cluster that no longer runs
	// is cleaned up first; one holding a running cluster is refused with
	// ErrRunning.
	Dir string
	// Nodes is how many kwok nodes to create; 0 means 1.
	Nodes int
	// Detach starts the processes in sessions of their own, so they keep
	// running after the caller exits; Open(Dir) finds them again. It needs
	// Dir. Without Detach the kernel kills them when the caller dies.
	Detach bool
	// NodeMonitorGracePeriod is how long a node may go without renewing its
	// Lease before the controller manager marks it NotReady and its pods
	// unready; 0 means DefaultNodeMonitorGracePeriod. kwok renews each
	// Lease every twelfth of it.
	NodeMonitorGracePeriod time.Duration
	// Timeout bounds the wait until the cluster is ready; 0 means 2 minutes.
	Timeout time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// DefaultNodeMonitorGracePeriod is the controller manager's
// --node-monitor-grace-period unless Options say otherwise: more than twice
// Kubernetes' 50 seconds, because kwok, the API server and etcd share the
// machine with whatever else runs on it, and on a busy 2-core machine
// (a Go build beside the tests) kwok can go many seconds without renewing
// a Lease. A node that misses its Lease for this long is marked NotReady.
const DefaultNodeMonitorGracePeriod = 2 * time.Minute

// ErrRunning is returned by Start when Options.Dir holds a running cluster.
var ErrRunning = errors.New("local cluster already running")

// ErrNotRunning is wrapped by Open's error when a directory holds no cluster.
var ErrNotRunning = errors.New("local cluster not running")

// Cluster is a started (or, through Open, a found) local cluster. Its
// methods are safe for concurrent use.
type Cluster struct {
	dir    string
	ownDir bool // Stop removes dir itself, not only what Start wrote
	binDir string
	grace  time.Duration // the node monitor grace period
	log    *slog.Logger
	state  State
	pki    *pki

	stopOnce sync.Once
	stopErr  error
}

// Start starts a cluster and returns once it is ready: the API server
// answers /readyz, the default namespace and its service account exist, the
// scheduler holds its lease and every node is Ready without taints. On error
// everything started is stopped again; when a process died, the error ends
// with the tail of its log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	begin := time.Now()
	binDir, err := FindBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.NodeMonitorGracePeriod <= 0 {
		opts.NodeMonitorGracePeriod = DefaultNodeMonitorGracePeriod
	}
	c := &Cluster{binDir: binDir, grace: opts.NodeMonitorGracePeriod, log: logger}
	if opts.Dir == "" {
		if opts.Detach {
			return nil, errors.New("start local cluster: Detach needs Options.Dir")
		}
		removeStaleTempDirs(logger)
		if c.dir, err = os.MkdirTemp("", tempDirPrefix+"*"); err != nil {
			return nil, fmt.Errorf("start local cluster: %w", err)
		}
		c.ownDir = true
	} else {
		if c.dir, err = filepath.Abs(opts.Dir); err != nil {
			return nil, fmt.Errorf("start local cluster: %w", err)
		}
		if err := cleanDir(c.dir, logger); err != nil {
			return nil, err
		}
	}
	owner, _ := startTicks(os.Getpid())
	c.state = State{
		OwnerPID: os.Getpid(), OwnerStartTicks: owner, Detached: opts.Detach,
		Nodes: opts.Nodes, Kubeconfig: filepath.Join(c.dir, "kubeconfig"),
	}
	// Record the owner at once, so that a crash before the first process
	// starts still leaves a directory removeStaleTempDirs can judge.
	if err := c.saveState(); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := c.launchWithRetry(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	c.state.ReadyAfter = time.Since(begin).Round(time.Millisecond).String()
	if err := c.saveState(); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	logger.Info("local cluster ready", "server", c.state.Server, "kubeconfig", c.state.Kubeconfig,
		"nodes", opts.Nodes, "took", time.Since(begin).Round(time.Millisecond))
	return c, nil
}

// launchWithRetry launches the cluster, starting over on new ports when a
// component lost the race for one of its free ports to another program.
func (c *Cluster) launchWithRetry(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := c.launch(ctx)
		if err == nil || attempt == 3 || !c.portTaken() {
			return err
		}
		c.log.Warn("local cluster port taken, starting over", "attempt", attempt)
		if err := stopProcesses(c.state.Processes, 10*time.Second); err != nil {
			return err
		}
		c.state.Processes = nil
		for _, sub := range []string{"etcd", "logs"} {
			if err := os.RemoveAll(filepath.Join(c.dir, sub)); err != nil {
				return fmt.Errorf("reset local cluster: %w", err)
			}
		}
	}
}

// portTaken reports whether a process failed because its port was taken.
func (c *Cluster) portTaken() bool {
	for _, p := range c.state.Processes {
		if !p.Alive() && p.logContains("address already in use") {
			return true
		}
	}
	return false
}

// Dir returns the cluster's state directory.
func (c *Cluster) Dir() string { return c.dir }

// BinDir returns the directory of the binaries the cluster runs (build.sh
// puts kubectl there too); it is empty for a cluster found by Open.
func (c *Cluster) BinDir() string { return c.binDir }

// Server returns the API server's URL, https://127.0.0.1:<port>.
func (c *Cluster) Server() string { return c.state.Server }

// Kubeconfig returns the path of an admin kubeconfig (context
// "ferry-local", user in system:masters, certificate embedded).
func (c *Cluster) Kubeconfig() string { return c.state.Kubeconfig }

// State returns what the cluster records in its cluster.json.
func (c *Cluster) State() State { return c.state }

// RESTConfig returns a new admin client configuration with high client-side
// rate limits.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	if c.pki != nil {
		return restConfig(c.state.Server, c.pki.caPEM, c.pki.admin.token), nil
	}
	return loadRESTConfig(c.state.Kubeconfig)
}

// Clientset returns a typed admin client.
func (c *Cluster) Clientset() (*kubernetes.Clientset, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("new clientset: %w", err)
	}
	return cs, nil
}

// Running reports whether every process of the cluster still runs.
func (c *Cluster) Running() bool {
	if len(c.state.Processes) == 0 {
		return false
	}
	for _, p := range c.state.Processes {
		if !p.Alive() {
			return false
		}
	}
	return true
}

// Stop stops every process the cluster started, one by one, last started
// first: SIGTERM to its process group, SIGKILL if it still runs 10 seconds
// later (at once for all when some process had already died). It then
// removes what the cluster wrote to its directory, and the directory itself
// when Start made it. A healthy cluster stops in about a second. Stop is
// safe to call more than once; later calls return the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		err := stopProcesses(c.state.Processes, 10*time.Second)
		c.stopErr = errors.Join(err, c.removeFiles())
		if c.stopErr != nil {
			c.stopErr = fmt.Errorf("stop local cluster: %w", c.stopErr)
		}
	})
	return c.stopErr
}
