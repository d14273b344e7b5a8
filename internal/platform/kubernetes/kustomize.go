package kubernetes

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// renderKustomize builds the kustomization in the application directory
// in-process, as `kustomize build` would. Bases and components may be
// anywhere in the repository (`../base` works) but not outside it: files
// outside the worktree are refused by the file system Kustomize is given.
// Remote bases and components (a Git URL in resources, bases or
// components) are fetched through the agent's Git, with its URL rewrites
// and credentials (see remoteBases), not by Kustomize's own `git clone`.
func renderKustomize(ctx context.Context, in RenderInput) ([]*unstructured.Unstructured, error) {
	opts, err := kustomizeOptions(in.Input.KustomizeOptions)
	if err != nil {
		return nil, err
	}
	remote := &remoteBases{ctx: ctx, settings: in.Helm}
	defer remote.close()
	fs := repoFS{FileSystem: filesys.MakeFsOnDisk(), in: &in, remote: remote}
	m, err := krusty.MakeKustomizer(opts).Run(fs, in.AppDir)
	if rerr := remote.failure(); err != nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("render: kustomize build %s: %w", in.rel(in.AppDir), err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		// Through JSON, so numbers are int64 and float64 as unstructured
		// objects require, not kyaml's int.
		js, err := r.MarshalJSON()
		var obj map[string]any
		if err == nil {
			err = utiljson.Unmarshal(js, &obj)
		}
		if err != nil {
			return nil, fmt.Errorf("render: kustomize build %s: %s: %w", in.rel(in.AppDir), r.CurId(), err)
		}
		objs, err := toObjects(obj)
		if err != nil {
			return nil, fmt.Errorf("render: kustomize build %s: %w", in.rel(in.AppDir), err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// kustomizeOptions maps input.kustomizeOptions, PipeCD's pass-through of
// `kustomize build` flags, to krusty options. Flags that need programs
// Ferry does not run (helm, exec and alpha plugins) are refused rather than
// ignored, since ignoring them would deploy something else than the user
// sees with `kustomize build`.
func kustomizeOptions(given map[string]string) (*krusty.Options, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy // the `kustomize build` default
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := given[k]
		switch strings.ReplaceAll(k, "-", "_") {
		case "load_restrictor":
			switch v {
			case "LoadRestrictionsNone", "none":
				opts.LoadRestrictions = types.LoadRestrictionsNone
			case "LoadRestrictionsRootOnly", "rootOnly":
				opts.LoadRestrictions = types.LoadRestrictionsRootOnly
			default:
				return nil, fmt.Errorf("render: kustomizeOptions.%s: %q is not LoadRestrictionsNone or LoadRestrictionsRootOnly", k, v)
			}
		case "reorder":
			switch v {
			case "legacy", "none":
				opts.Reorder = krusty.ReorderOption(v)
			default:
				return nil, fmt.Errorf("render: kustomizeOptions.%s: %q is not legacy or none", k, v)
			}
		case "enable_managedby_label":
			opts.AddManagedbyLabel = v == "" || v == "true"
		case "enable_helm":
			return nil, fmt.Errorf("render: kustomizeOptions.%s is not supported: Ferry renders in-process and runs no helm binary; render the chart with input.helmChart instead", k)
		case "enable_alpha_plugins", "enable_exec":
			return nil, fmt.Errorf("render: kustomizeOptions.%s is not supported: Ferry runs no Kustomize plugins", k)
		default:
			return nil, fmt.Errorf("render: kustomizeOptions.%s is not a known option; supported: load_restrictor, reorder, enable_managedby_label", k)
		}
	}
	return opts, nil
}

// repoFS is the on-disk file system confined to the repository: reads
// outside it fail, and writes fail everywhere, since rendering must not
// change the worktree.
type repoFS struct {
	filesys.FileSystem
	in     *RenderInput
	remote *remoteBases
}

// check resolves path against the working directory as the disk file
// system would, and refuses it outside the repository and the remote
// bases fetched for this build.
func (fs repoFS) check(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if in, err := fs.remote.check(abs); in {
		return err
	}
	_, err = fs.in.inside(abs)
	return err
}

func (fs repoFS) Open(path string) (filesys.File, error) {
	if err := fs.check(path); err != nil {
		return nil, err
	}
	return fs.FileSystem.Open(path)
}

func (fs repoFS) IsDir(path string) bool { return fs.check(path) == nil && fs.FileSystem.IsDir(path) }

func (fs repoFS) Exists(path string) bool {
	return fs.check(path) == nil && fs.FileSystem.Exists(path)
}

func (fs repoFS) ReadDir(path string) ([]string, error) {
	if err := fs.check(path); err != nil {
		return nil, err
	}
	return fs.FileSystem.ReadDir(path)
}

func (fs repoFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	if err := fs.check(path); err != nil {
		return "", "", err
	}
	return fs.FileSystem.CleanedAbs(path)
}

// ReadFile reads a file; a kustomization file comes back with its remote
// bases replaced by the paths of their local copies.
func (fs repoFS) ReadFile(path string) ([]byte, error) {
	if err := fs.check(path); err != nil {
		return nil, err
	}
	data, err := fs.FileSystem.ReadFile(path)
	if err != nil || !slices.Contains(kustomizationFiles, filepath.Base(path)) {
		return data, err
	}
	return fs.remote.rewriteKustomization(path, data)
}

func (fs repoFS) Glob(pattern string) ([]string, error) {
	matches, err := fs.FileSystem.Glob(pattern)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(matches, func(m string) bool { return fs.check(m) != nil }), nil
}

func (fs repoFS) Walk(path string, walkFn filepath.WalkFunc) error {
	if err := fs.check(path); err != nil {
		return err
	}
	return fs.FileSystem.Walk(path, walkFn)
}

func (fs repoFS) Create(path string) (filesys.File, error) { return nil, errReadOnly(path) }
func (fs repoFS) Mkdir(path string) error                  { return errReadOnly(path) }
func (fs repoFS) MkdirAll(path string) error               { return errReadOnly(path) }
func (fs repoFS) RemoveAll(path string) error              { return errReadOnly(path) }
func (fs repoFS) WriteFile(path string, _ []byte) error    { return errReadOnly(path) }

// errReadOnly says why a write during rendering failed.
func errReadOnly(path string) error {
	return fmt.Errorf("%s: rendering does not write files", path)
}
