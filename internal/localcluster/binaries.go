package localcluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The versions hack/kube/build.sh builds; a test keeps these in step with
// hack/kube/go.mod and build.sh.
const (
	// KubernetesVersion is the Kubernetes release of the control plane.
	KubernetesVersion = "v1.36.3"
	// KwokVersion is the kwok release that simulates nodes and pods.
	KwokVersion = "v0.8.0"
)

// BinEnv names the variable that points at the bin directory build.sh
// prints, e.g. FERRY_KUBE_BIN=$(bash hack/kube/build.sh | tail -n 1).
const BinEnv = "FERRY_KUBE_BIN"

// CacheEnv names the variable that overrides build.sh's cache folder; the bin
// directory is its bin subfolder.
const CacheEnv = "FERRY_KUBE_CACHE"

// ErrNoBinaries is wrapped by the errors of FindBinDir and Start when the
// cluster's binaries are not where they were looked for.
var ErrNoBinaries = errors.New("local cluster binaries not found")

// binaries are the programs a cluster runs, as build.sh names them.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// stageFiles are the kwok Stage definitions build.sh copies next to bin.
var stageFiles = []string{
	"node-initialize.yaml", "node-heartbeat-with-lease.yaml",
	"pod-ready.yaml", "pod-complete.yaml", "pod-delete.yaml",
}

// FindBinDir returns the directory holding the cluster's binaries: dir when
// it is not empty, else $FERRY_KUBE_BIN, else the bin folder of build.sh's
// default cache ($FERRY_KUBE_CACHE, or the user cache folder keyed by
// KubernetesVersion and KwokVersion). It checks that every binary and kwok
// stage is there; the error wraps ErrNoBinaries and says how to build them.
func FindBinDir(dir string) (string, error) {
	from := "as given"
	if dir == "" {
		dir, from = os.Getenv(BinEnv), "$"+BinEnv
	}
	if dir == "" {
		dir, from = DefaultCacheDir(), "the default cache"
		if dir != "" {
			dir = filepath.Join(dir, "bin")
		}
	}
	if dir == "" {
		return "", fmt.Errorf("%w: no %s and no user cache folder; run `bash hack/kube/build.sh` and set %s", ErrNoBinaries, BinEnv, BinEnv)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("bin dir %s: %w", dir, err)
	}
	need := make([]string, 0, len(binaries)+len(stageFiles))
	for _, b := range binaries {
		need = append(need, filepath.Join(dir, b))
	}
	for _, s := range stageFiles {
		need = append(need, filepath.Join(stagesDir(dir), s))
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s (from %s) lacks %s; run `bash hack/kube/build.sh` and set %s to the directory it prints",
				ErrNoBinaries, dir, from, filepath.Base(p), BinEnv)
		}
	}
	return dir, nil
}

// DefaultCacheDir returns the folder build.sh builds into when no
// FERRY_KUBE_CACHE is set, or $FERRY_KUBE_CACHE. It is empty when the user
// has no cache folder.
func DefaultCacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "ferry", "kube", KubernetesVersion+"-kwok"+KwokVersion)
}

// stagesDir is where build.sh puts kwok's Stage files for a bin directory.
func stagesDir(binDir string) string { return filepath.Join(filepath.Dir(binDir), "stages") }

// BuildInfo is what build.sh recorded about the build in a bin directory's
// cache folder (build.txt).
type BuildInfo struct {
	KubernetesVersion string
	EtcdVersion       string
	KwokVersion       string
	GoVersion         string
	// BuildSeconds is how long the build took, from an empty cache folder
	// (and a cold Go build cache the very first time).
	BuildSeconds int
	// BuiltAt is when the build started, RFC 3339 in UTC.
	BuiltAt string
}

// ReadBuildInfo reads build.txt next to binDir.
func ReadBuildInfo(binDir string) (BuildInfo, error) {
	path := filepath.Join(filepath.Dir(binDir), "build.txt")
	f, err := os.Open(path)
	if err != nil {
		return BuildInfo{}, fmt.Errorf("read build info: %w", err)
	}
	defer f.Close()
	var bi BuildInfo
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "kubernetes_version":
			bi.KubernetesVersion = v
		case "etcd_version":
			bi.EtcdVersion = v
		case "kwok_version":
			bi.KwokVersion = v
		case "go_version":
			bi.GoVersion = v
		case "build_seconds":
			bi.BuildSeconds, _ = strconv.Atoi(v)
		case "built_at":
			bi.BuiltAt = v
		}
	}
	if err := sc.Err(); err != nil {
		return BuildInfo{}, fmt.Errorf("read build info %s: %w", path, err)
	}
	return bi, nil
}
