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
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/ferrycd/ferry/internal/gitrepo"
)

// HelmSettings are the agent's settings for charts that come from chart
// repositories, OCI registries or other Git remotes rather than from the
// application's Git repository.
type HelmSettings struct {
	// CacheDir keeps downloaded charts, one .tgz per chart version, so a
	// chart pinned to an exact version is downloaded once, and the mirrors
	// of Git remotes charts come from. Empty means ferry/helm under the
	// user's cache directory.
	CacheDir string
	// Repositories are the chart repositories the agent config names
	// (chartRepositories), which helmChart.repository may refer to by name.
	Repositories []HelmRepository
	// Registries are the OCI registries the agent config names
	// (chartRegistries): their credentials are used for charts pulled from
	// them.
	Registries []HelmRegistry
	// Git is the agent's Git credentials (spec.git), used for
	// helmChart.gitRemote and GIT chart repositories that have none of
	// their own, when the remote is on one of GitHosts.
	Git gitrepo.Auth
	// GitHosts are the hosts Git's credentials were configured for: those
	// of the agent's repositories (see gitrepo.RemoteHost). An application
	// config names any remote it likes in helmChart.gitRemote; the
	// credentials go only to these hosts.
	GitHosts []string
	// URLRewrites apply to every Git remote fetched for rendering
	// (helmChart.gitRemote, GIT chart repositories, Kustomize remote
	// bases): see gitrepo.RewriteURL.
	URLRewrites []gitrepo.URLRewrite
}

// HelmRepository is a named chart repository: over HTTP (Address,
// https://...), in Git (GitRemote), or an OCI registry (Address,
// oci://host/path).
type HelmRepository struct {
	Name    string
	Address string
	// Username and Password are sent with HTTP basic authentication, to
	// the repository's host only; for a Git remote over HTTPS they are the
	// Git credentials.
	Username string
	Password string
	// Insecure skips TLS certificate verification.
	Insecure bool
	// insecureByApp says Insecure came from the application config
	// (helmChart.insecure), which must not weaken TLS for credentials the
	// agent config holds.
	insecureByApp bool
	// GitRemote, when set, makes this a chart repository kept in Git.
	GitRemote string
	// SSHKeyFile is the private key for an SSH GitRemote; it is also used
	// for helmChart.gitRemote when that is the same remote.
	SSHKeyFile string
}

// HelmRegistry holds the credentials of an OCI registry: Address is its
// host (registry.example.com), or a host and path prefix
// (registry.example.com/team), with or without oci://.
type HelmRegistry struct {
	Address  string
	Username string
	Password string
}

// loadChart loads the chart helmChart points at and returns it with a name
// for messages.
func loadChart(ctx context.Context, in RenderInput) (*chart.Chart, string, error) {
	hc := in.Input.HelmChart
	switch {
	case hc.GitRemote != "":
		c, source, err := in.Helm.loadGitChart(ctx, hc)
		if err != nil {
			return nil, "", in.Helm.redact(err)
		}
		return c, source, nil
	case hc.Repository != "":
		if hc.Name == "" {
			return nil, "", fmt.Errorf("render: spec.input.helmChart.repository %s needs spec.input.helmChart.name, the chart's name in it", hc.Repository)
		}
		r, err := in.Helm.repository(hc.Repository, hc.Insecure)
		if err != nil {
			return nil, "", err
		}
		c, err := in.Helm.fetch(ctx, r, hc.Name, hc.Version)
		if err != nil {
			return nil, "", fmt.Errorf("render: helm chart %s from %s: %w", hc.Name, r.label(), in.Helm.redact(err, r.Password))
		}
		return c, r.label() + " " + chartLabel(c), nil
	case hc.Path != "":
		dir, err := in.inside(filepath.Join(in.AppDir, hc.Path))
		if err != nil {
			return nil, "", fmt.Errorf("render: helmChart.path: %w", err)
		}
		if err := checkSymlinks(in.RepoDir, dir); err != nil {
			return nil, "", fmt.Errorf("render: helm chart %s: %w", in.rel(dir), err)
		}
		c, err := loader.Load(dir)
		if err != nil {
			return nil, "", fmt.Errorf("render: helm chart %s: %w", in.rel(dir), err)
		}
		return c, in.rel(dir), nil
	default:
		return nil, "", errors.New("render: helmChart needs path (a chart in this repository), gitRemote, ref and path (a chart in another Git repository), or repository and name")
	}
}

// repository resolves helmChart.repository: an address, or the name of a
// repository in the agent config.
func (s HelmSettings) repository(ref string, insecure bool) (HelmRepository, error) {
	if strings.Contains(ref, "://") {
		return HelmRepository{Address: ref, Insecure: insecure, insecureByApp: insecure}, nil
	}
	for _, r := range s.Repositories {
		if r.Name == ref {
			if insecure && !r.Insecure && r.hasCredentials() {
				return HelmRepository{}, fmt.Errorf("render: spec.input.helmChart.insecure cannot turn off TLS verification for chart repository %q, which the agent config gives credentials; set insecure on it in the agent's chartRepositories if its certificate cannot be verified", ref)
			}
			r.Insecure = r.Insecure || insecure
			return r, nil
		}
	}
	return HelmRepository{}, fmt.Errorf("render: spec.input.helmChart.repository %q is neither a URL nor a chart repository in the agent config; add it to the agent's chartRepositories or use its address", ref)
}

// hasCredentials reports whether the agent config gives the repository
// credentials.
func (r HelmRepository) hasCredentials() bool {
	return r.Username != "" || r.Password != "" || r.SSHKeyFile != ""
}

// label names the repository in messages, without credentials.
func (r HelmRepository) label() string {
	if r.GitRemote != "" {
		return redactURL(r.GitRemote)
	}
	return redactURL(r.Address)
}

// redact removes every password of the settings, the given secrets and
// any URL credentials from err's message, keeping err in the chain for
// errors.Is.
func (s HelmSettings) redact(err error, secrets ...string) error {
	for _, r := range s.Repositories {
		secrets = append(secrets, r.Password)
	}
	for _, r := range s.Registries {
		secrets = append(secrets, r.Password)
	}
	return redactError(err, secrets...)
}

// cacheDir returns the directory for downloaded charts and chart mirrors.
func (s HelmSettings) cacheDir() (string, error) {
	if s.CacheDir != "" {
		return s.CacheDir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("chart cache: %w", err)
	}
	return filepath.Join(base, "ferry", "helm"), nil
}

// fetch returns the chart from the cache, or downloads it into the cache.
func (s HelmSettings) fetch(ctx context.Context, r HelmRepository, name, version string) (*chart.Chart, error) {
	dir, err := s.cacheDir()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(r.Address + "\x00" + r.GitRemote + "\x00" + name))
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
	switch {
	case r.GitRemote != "":
		version, data, err = s.pullGit(ctx, r, name, version)
	case strings.HasPrefix(r.Address, registry.OCIScheme+"://"):
		version, data, err = s.pullOCI(ctx, r, name, version)
	default:
		version, data, err = pullHTTP(ctx, r, name, version)
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
func pullHTTP(ctx context.Context, r HelmRepository, name, version string) (string, []byte, error) {
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
		return "", nil, httpGetError("get index.yaml", r, err)
	}
	idx, err := loadIndex(buf.Bytes())
	if err != nil {
		return "", nil, err
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
		return "", nil, httpGetError("download "+redactURL(u), r, err)
	}
	return cv.Version, buf.Bytes(), nil
}

// httpGetError explains a failed download; a refusal of the credentials
// says which settings to check.
func httpGetError(what string, r HelmRepository, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "401 Unauthorized"), strings.Contains(msg, "403 Forbidden"):
		if r.Username == "" {
			return fmt.Errorf("%s: the repository asks for credentials (%w); set username and password in the agent's chartRepositories", what, err)
		}
		return fmt.Errorf("%s: the repository refused the credentials (%w); check username and password in the agent's chartRepositories", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// pullOCI resolves the version among the registry's tags and pulls the
// chart. With credentials (the repository's own, or those of the
// chartRegistries entry for its address), the client logs in to the
// registry first, in-process as `helm registry login` does, with the
// credentials kept to that host and in memory (the credentials file the
// login writes is a temporary one, removed afterwards). Loopback
// registries are spoken to in plain HTTP, as Docker does.
func (s HelmSettings) pullOCI(ctx context.Context, r HelmRepository, name, version string) (string, []byte, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(r.Address, registry.OCIScheme+"://"), "/")
	ref := host + "/" + name
	if r.Username == "" {
		if reg, ok := s.registryFor(ref); ok && reg.Username != "" {
			if r.insecureByApp {
				return "", nil, fmt.Errorf("spec.input.helmChart.insecure cannot turn off TLS verification for %s, which the agent's chartRegistries give credentials; name a chart repository with insecure in the agent config instead", reg.Address)
			}
			r.Username, r.Password = reg.Username, reg.Password
		}
	}
	creds, err := os.MkdirTemp("", "ferry-registry-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(creds)
	opts := []registry.ClientOption{registry.ClientOptCredentialsFile(filepath.Join(creds, "config.json"))}
	plain := isLoopback(host)
	if plain {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	if r.Insecure {
		opts = append(opts, registry.ClientOptHTTPClient(&http.Client{Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // asked for by insecure
		}}))
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return "", nil, err
	}
	if r.Username != "" {
		regHost, _, _ := strings.Cut(host, "/")
		if err := client.Login(regHost, registry.LoginOptBasicAuth(r.Username, r.Password), registry.LoginOptPlainText(plain)); err != nil {
			return "", nil, fmt.Errorf("log in to %s: %w; check username and password in the agent's chartRegistries", regHost, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	tag := version
	if !isExactVersion(version) {
		tags, err := client.Tags(ref)
		if err != nil {
			return "", nil, ociError("list tags of "+ref, r, err)
		}
		if tag, err = registry.GetTagMatchingVersionOrConstraint(tags, version); err != nil {
			return "", nil, fmt.Errorf("%s: %w", ref, err)
		}
	}
	res, err := client.Pull(ref+":"+tag, registry.PullOptWithChart(true))
	if err != nil {
		return "", nil, ociError("pull "+ref+":"+tag, r, err)
	}
	return tag, res.Chart.Data, nil
}

// ociError explains a failed registry call; a registry asking for
// credentials the agent has not got says where to put them.
func ociError(what string, r HelmRepository, err error) error {
	msg := err.Error()
	if r.Username == "" && (strings.Contains(msg, "credential not found") || strings.Contains(msg, "401")) {
		return fmt.Errorf("%s: the registry asks for credentials (%w); add it with username and password to the agent's chartRegistries", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// registryFor returns the chartRegistries entry whose address is the
// longest prefix of ref (host/path/name).
func (s HelmSettings) registryFor(ref string) (HelmRegistry, bool) {
	var best HelmRegistry
	found := false
	for _, reg := range s.Registries {
		addr := strings.TrimSuffix(strings.TrimPrefix(reg.Address, registry.OCIScheme+"://"), "/")
		if (ref == addr || strings.HasPrefix(ref, addr+"/")) && (!found || len(addr) > len(best.Address)) {
			best, found = reg, true
			best.Address = addr
		}
	}
	return best, found
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

// userinfo matches the credentials part of a URL.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'"]+@`)

// redactURL removes the credentials from any URL in s.
func redactURL(s string) string {
	return userinfo.ReplaceAllString(s, "${1}")
}

// redactedError is an error whose message had secrets removed; the
// original stays in the chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError returns err with URL credentials and the given secrets
// removed from its message.
func redactError(err error, secrets ...string) error {
	msg := redactURL(err.Error())
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
