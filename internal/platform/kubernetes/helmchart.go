package kubernetes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// HelmSettings are the agent's settings for charts that come from chart
// repositories or OCI registries rather than from the application's Git
// repository.
type HelmSettings struct {
	// CacheDir keeps downloaded charts, one .tgz per chart version, so a
	// chart pinned to an exact version is downloaded once. Empty means
	// ferry/helm under the user's cache directory.
	CacheDir string
	// Repositories are the chart repositories and registries the agent
	// config names (PipeCD's chartRepositories and chartRegistries), which
	// helmChart.repository may refer to by name.
	Repositories []HelmRepository
}

// HelmRepository is a named chart repository (https://...) or OCI registry
// (oci://host/path).
type HelmRepository struct {
	Name     string
	Address  string
	Username string
	Password string
	// Insecure skips TLS certificate verification.
	Insecure bool
}

// loadChart loads the chart helmChart points at and returns it with a name
// for messages.
func loadChart(ctx context.Context, in RenderInput) (*chart.Chart, string, error) {
	hc := in.Input.HelmChart
	switch {
	case hc.GitRemote != "":
		return nil, "", errors.New("render: helmChart.gitRemote is not supported yet; copy the chart into this repository and use helmChart.path, or publish it to a chart repository")
	case hc.Repository != "":
		if hc.Name == "" {
			return nil, "", fmt.Errorf("render: helmChart.repository %s needs helmChart.name", hc.Repository)
		}
		r, err := in.Helm.repository(hc.Repository, hc.Insecure)
		if err != nil {
			return nil, "", err
		}
		c, err := in.Helm.fetch(ctx, r, hc.Name, hc.Version)
		if err != nil {
			return nil, "", fmt.Errorf("render: helm chart %s from %s: %w", hc.Name, r.Address, err)
		}
		return c, r.Address + " " + chartLabel(c), nil
	case hc.Path != "":
		dir, err := in.inside(filepath.Join(in.AppDir, hc.Path))
		if err != nil {
			return nil, "", fmt.Errorf("render: helmChart.path: %w", err)
		}
		c, err := loader.Load(dir)
		if err != nil {
			return nil, "", fmt.Errorf("render: helm chart %s: %w", in.rel(dir), err)
		}
		return c, in.rel(dir), nil
	default:
		return nil, "", errors.New("render: helmChart needs path (a chart in this repository) or repository and name")
	}
}

// repository resolves helmChart.repository: an address, or the name of a
// repository in the agent config.
func (s HelmSettings) repository(ref string, insecure bool) (HelmRepository, error) {
	if strings.Contains(ref, "://") {
		return HelmRepository{Address: ref, Insecure: insecure}, nil
	}
	for _, r := range s.Repositories {
		if r.Name == ref {
			r.Insecure = r.Insecure || insecure
			return r, nil
		}
	}
	return HelmRepository{}, fmt.Errorf("render: helmChart.repository %q is neither a URL nor a chart repository in the agent config; add it there or use its address", ref)
}

// fetch returns the chart from the cache, or downloads it into the cache.
func (s HelmSettings) fetch(ctx context.Context, r HelmRepository, name, version string) (*chart.Chart, error) {
	dir := s.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("chart cache: %w", err)
		}
		dir = filepath.Join(base, "ferry", "helm")
	}
	sum := sha256.Sum256([]byte(r.Address + "\x00" + name))
	dir = filepath.Join(dir, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chart cache: %w", err)
	}
	exact := isExactVersion(version)
	if exact {
		if data, err := os.ReadFile(filepath.Join(dir, name+"-"+version+".tgz")); err == nil {
			return loader.LoadArchive(bytes.NewReader(data))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var data []byte
	var err error
	if strings.HasPrefix(r.Address, registry.OCIScheme+"://") {
		version, data, err = pullOCI(r, name, version, dir)
	} else {
		version, data, err = pullHTTP(ctx, r, name, version, dir)
	}
	if err != nil {
		return nil, err
	}
	c, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if exact || isExactVersion(version) {
		if err := writeAtomic(filepath.Join(dir, name+"-"+version+".tgz"), data); err != nil {
			return nil, fmt.Errorf("chart cache: %w", err)
		}
	}
	return c, nil
}

// pullHTTP resolves the version in the repository's index.yaml and
// downloads the chart. Helm's getter sends the credentials to the chart's
// URL only when it is on the repository's host.
func pullHTTP(ctx context.Context, r HelmRepository, name, version, dir string) (string, []byte, error) {
	base := strings.TrimSuffix(r.Address, "/")
	timeout := 5 * time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	g, err := getter.NewHTTPGetter(getter.WithURL(base), getter.WithBasicAuth(r.Username, r.Password),
		getter.WithInsecureSkipVerifyTLS(r.Insecure), getter.WithTimeout(timeout))
	if err != nil {
		return "", nil, err
	}
	buf, err := g.Get(base + "/index.yaml")
	if err != nil {
		return "", nil, fmt.Errorf("get index.yaml: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "index-*.yaml")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(buf.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, err
	}
	idx, err := repo.LoadIndexFile(tmp.Name())
	if err != nil {
		return "", nil, fmt.Errorf("index.yaml: %w", err)
	}
	cv, err := idx.Get(name, version)
	if err != nil {
		return "", nil, fmt.Errorf("no version %q in the repository's index: %w", version, err)
	}
	if len(cv.URLs) == 0 {
		return "", nil, fmt.Errorf("version %s has no download URL in the index", cv.Version)
	}
	u, err := repo.ResolveReferenceURL(base+"/", cv.URLs[0])
	if err != nil {
		return "", nil, err
	}
	buf, err = g.Get(u)
	if err != nil {
		return "", nil, fmt.Errorf("download %s: %w", u, err)
	}
	return cv.Version, buf.Bytes(), nil
}

// pullOCI resolves the version among the registry's tags and pulls the
// chart. Loopback registries are spoken to in plain HTTP, as Docker does.
func pullOCI(r HelmRepository, name, version, dir string) (string, []byte, error) {
	host := strings.TrimPrefix(r.Address, registry.OCIScheme+"://")
	ref := strings.TrimSuffix(host, "/") + "/" + name
	opts := []registry.ClientOption{registry.ClientOptCredentialsFile(filepath.Join(dir, "registry-config.json"))}
	if r.Username != "" {
		opts = append(opts, registry.ClientOptBasicAuth(r.Username, r.Password))
	}
	if isLoopback(host) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	if r.Insecure {
		opts = append(opts, registry.ClientOptHTTPClient(&http.Client{Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // asked for by helmChart.insecure
		}}))
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return "", nil, err
	}
	tag := version
	if !isExactVersion(version) {
		tags, err := client.Tags(ref)
		if err != nil {
			return "", nil, fmt.Errorf("list tags of %s: %w", ref, err)
		}
		if tag, err = registry.GetTagMatchingVersionOrConstraint(tags, version); err != nil {
			return "", nil, fmt.Errorf("%s: %w", ref, err)
		}
	}
	res, err := client.Pull(ref+":"+tag, registry.PullOptWithChart(true))
	if err != nil {
		return "", nil, fmt.Errorf("pull %s:%s: %w", ref, tag, err)
	}
	return tag, res.Chart.Data, nil
}

// isExactVersion reports whether version names one chart version rather
// than a range, so a cached download can be used without asking the
// repository.
func isExactVersion(version string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(version, "v"))
	return err == nil
}

// isLoopback reports whether the registry in ref ("host:port/path") is on
// this machine.
func isLoopback(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// writeAtomic writes data to path through a temporary file and a rename,
// so concurrent renders never read a half-written chart.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
