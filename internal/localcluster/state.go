package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// stateFile is the name of the file in a cluster's directory that records
// its processes and addresses.
const stateFile = "cluster.json"

// tempDirPrefix names the temporary directories of clusters started without
// Options.Dir, so that Start can find those a crashed run left behind.
const tempDirPrefix = "ferry-kube-"

// written are the entries Start creates in a cluster's directory; Stop
// removes exactly these, so a Dir shared with other files loses nothing else.
var written = []string{
	stateFile, stateFile + ".tmp", "pki", "etcd", "logs", "kwok", "apiserver", "controller-manager", "scheduler",
	"kubeconfig", "controller-manager.kubeconfig", "scheduler.kubeconfig", "kwok.kubeconfig",
}

// State is the content of a cluster's cluster.json.
type State struct {
	// OwnerPID and OwnerStartTicks identify the process that ran Start; a
	// cluster that is not Detached dies with it.
	OwnerPID        int    `json:"owner_pid"`
	OwnerStartTicks uint64 `json:"owner_start_ticks"`
	Detached        bool   `json:"detached"`
	// Server is the API server's URL.
	Server string `json:"server"`
	// Kubeconfig is the admin kubeconfig's path.
	Kubeconfig string `json:"kubeconfig"`
	// Ports are the loopback ports the components listen on.
	Ports Ports `json:"ports"`
	// Nodes is the number of kwok nodes Start created.
	Nodes int `json:"nodes"`
	// StartedAt is when the first process started.
	StartedAt time.Time `json:"started_at"`
	// ReadyAfter is how long Start took, as a time.Duration string.
	ReadyAfter string `json:"ready_after,omitempty"`
	// Processes are the started programs, in start order.
	Processes []*Process `json:"processes"`
}

// Ports are the loopback ports of a cluster's components.
type Ports struct {
	Etcd      int `json:"etcd"`
	EtcdPeer  int `json:"etcd_peer"`
	APIServer int `json:"apiserver"`
}

// saveState writes cluster.json atomically.
func (c *Cluster) saveState() error {
	b, err := json.MarshalIndent(c.state, "", "  ")
	if err != nil {
		return fmt.Errorf("save cluster state: %w", err)
	}
	tmp := filepath.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save cluster state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, stateFile)); err != nil {
		return fmt.Errorf("save cluster state: %w", err)
	}
	return nil
}

// Open returns the cluster recorded in dir (by a Start with Options.Dir,
// usually a detached one), whether or not its processes still run (see
// Running); Stop on it stops what still runs and removes the state. The error wraps ErrNotRunning when dir holds no
// cluster.
func Open(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open local cluster: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s in %s", ErrNotRunning, stateFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open local cluster: %w", err)
	}
	c := &Cluster{dir: dir, log: slog.New(slog.DiscardHandler)}
	if err := json.Unmarshal(b, &c.state); err != nil {
		return nil, fmt.Errorf("open local cluster: %s: %w", stateFile, err)
	}
	return c, nil
}

// cleanDir prepares dir for a new cluster: it refuses one whose cluster still
// runs, and stops what is left of one that does not.
func cleanDir(dir string, logger *slog.Logger) error {
	old, err := Open(dir)
	if errors.Is(err, ErrNotRunning) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if old.Running() {
		return fmt.Errorf("%w in %s: API server %s (stop it first)", ErrRunning, dir, old.state.Server)
	}
	logger.Info("cleaning up a local cluster that stopped", "dir", dir)
	if err := old.Stop(); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o700)
}

// removeFiles removes what Start wrote, and the directory when Start made it
// or it is left empty.
func (c *Cluster) removeFiles() error {
	if c.ownDir {
		return os.RemoveAll(c.dir)
	}
	var errs []error
	for _, name := range written {
		errs = append(errs, os.RemoveAll(filepath.Join(c.dir, name)))
	}
	if err := os.Remove(c.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Debug("local cluster dir kept", "dir", c.dir, "reason", err)
	}
	return errors.Join(errs...)
}

// removeStaleTempDirs removes the temporary directories of clusters whose
// owner died without calling Stop (a killed `go test`, say), stopping any
// process of theirs that survived.
func removeStaleTempDirs(logger *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*"))
	for _, dir := range dirs {
		c, err := Open(dir)
		if err != nil || c.state.Detached {
			continue // no state yet (another cluster starting up), or not ours to judge
		}
		if ticks, ok := startTicks(c.state.OwnerPID); ok && ticks == c.state.OwnerStartTicks {
			continue
		}
		c.ownDir = true
		if err := c.Stop(); err != nil {
			logger.Warn("removing a crashed run's local cluster", "dir", dir, "error", err)
		}
	}
}
