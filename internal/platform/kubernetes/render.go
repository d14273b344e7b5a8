package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/secrets"
)

// RenderInput is what Render needs to turn an application directory into
// objects.
type RenderInput struct {
	// RepoDir is the root of the checked-out worktree. Every file Render
	// reads (manifests, Kustomize bases, charts, value files) must be inside
	// it, so a config cannot make the agent read its own files.
	RepoDir string
	// AppDir is the application's directory, relative to RepoDir or an
	// absolute path inside it.
	AppDir string
	// AppName is the application's name, the default Helm release name.
	AppName string
	// ConfigFile is the base name of the application's config file, left out
	// of plain manifests along with app.ferry.yaml and *.pipecd.yaml.
	ConfigFile string
	// Input is the application config's spec.input.
	Input config.KubernetesInput
	// Helm holds the agent's settings for charts from repositories.
	Helm HelmSettings
	// Encryption is the application config's spec.encryption; Decrypter
	// opens its values (nil when the agent has no secretManagement). With
	// decryption targets, Render renders a private copy of the checkout
	// whose targets hold the values (see secrets.Prepare).
	Encryption *config.Encryption
	Decrypter  secrets.Decrypter
}

// appConfigFiles are file names that are application configs, never
// manifests, besides RenderInput.ConfigFile.
func isAppConfigFile(name, configFile string) bool {
	return name == configFile || name == "app.ferry.yaml" || name == "app.ferry.yml" ||
		strings.HasSuffix(name, ".pipecd.yaml") || strings.HasSuffix(name, ".pipecd.yml")
}

// kustomizationFiles are the names Kustomize looks for, in its order.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Render renders the application's desired state, as PipeCD decides how:
// with Helm when input.helmChart is set, else with Kustomize when the
// application directory has a kustomization file, else from the plain
// manifests (input.manifests, or every *.yaml, *.yml and *.json file in the
// directory but the application config).
//
// Errors name the file, and the line where the YAML parser gives one
// (*ManifestError), and say what to do. Render reads only files inside
// in.RepoDir. Charts from repositories are downloaded once into
// in.Helm.CacheDir; Render blocks on those downloads and honours ctx
// between steps. It is safe for concurrent use.
func Render(ctx context.Context, in RenderInput) ([]*unstructured.Unstructured, error) {
	root, err := filepath.Abs(in.RepoDir)
	if err != nil {
		return nil, fmt.Errorf("render: repository dir: %w", err)
	}
	in.RepoDir = root
	appDir := in.AppDir
	if !filepath.IsAbs(appDir) {
		appDir = filepath.Join(root, appDir)
	}
	if in.AppDir, err = in.inside(appDir); err != nil {
		return nil, fmt.Errorf("render: application dir: %w", err)
	}
	if in.Encryption != nil && len(in.Encryption.DecryptionTargets) > 0 {
		prep, err := secrets.Prepare(in.RepoDir, in.AppDir, in.Encryption, in.Decrypter)
		if err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		defer prep.Close()
		in.RepoDir, in.AppDir = prep.RepoDir, prep.AppDir
		objs, err := renderInput(ctx, in)
		return objs, prep.Redact(err)
	}
	return renderInput(ctx, in)
}

// renderInput renders in's files by the input it names: a Helm chart, a
// kustomization or plain manifests.
func renderInput(ctx context.Context, in RenderInput) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case in.Input.HelmChart != nil:
		return renderHelm(ctx, in)
	case kustomizationIn(in.AppDir) != "":
		return renderKustomize(ctx, in)
	default:
		return renderManifests(in)
	}
}

// kustomizationIn returns the kustomization file in dir, or "".
func kustomizationIn(dir string) string {
	for _, name := range kustomizationFiles {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
			return name
		}
	}
	return ""
}

// renderManifests loads the plain manifests.
func renderManifests(in RenderInput) ([]*unstructured.Unstructured, error) {
	files := in.Input.Manifests
	if len(files) == 0 {
		entries, err := os.ReadDir(in.AppDir)
		if err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			ext := filepath.Ext(name)
			if e.IsDir() || strings.HasPrefix(name, ".") || isAppConfigFile(name, in.ConfigFile) ||
				(ext != ".yaml" && ext != ".yml" && ext != ".json") {
				continue
			}
			files = append(files, name)
		}
		slices.Sort(files)
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		path, err := in.inside(filepath.Join(in.AppDir, f))
		if err != nil {
			return nil, fmt.Errorf("render: manifest %s: %w", f, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &ManifestError{File: in.rel(path), Msg: "listed in input.manifests but does not exist; fix the list or add the file"}
			}
			return nil, fmt.Errorf("render: %w", err)
		}
		objs, err := parseManifests(in.rel(path), data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// inside resolves path, following symbolic links, and checks it is inside
// the repository. A path that does not exist yet is checked as written.
func (in *RenderInput) inside(path string) (string, error) {
	path = filepath.Clean(path)
	if !within(in.RepoDir, path) {
		return "", fmt.Errorf("%s is outside the repository; paths in the application config must stay inside it", in.rel(path))
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		root := in.RepoDir
		if r, err := filepath.EvalSymlinks(root); err == nil {
			root = r
		}
		if !within(root, real) {
			return "", fmt.Errorf("%s is, or is under, a symbolic link to a file outside the repository; Ferry reads only files inside it: commit the file instead of a link", in.rel(path))
		}
	}
	return path, nil
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// rel names path relative to the repository for messages.
func (in *RenderInput) rel(path string) string {
	if r, err := filepath.Rel(in.RepoDir, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}
