package kubernetes

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
)

// renderHelm renders the chart as `helm template --no-hooks --include-crds`
// does, which is how PipeCD renders Helm applications: hooks are Helm's
// release lifecycle, which a GitOps sync does not have.
func renderHelm(ctx context.Context, in RenderInput) ([]*unstructured.Unstructured, error) {
	chrt, source, err := loadChart(ctx, in)
	if err != nil {
		return nil, err
	}
	if deps := chrt.Metadata.Dependencies; len(deps) > 0 {
		if err := action.CheckDependencies(chrt, deps); err != nil {
			return nil, fmt.Errorf("render: helm chart %s: %w; run `helm dependency build` and commit the charts/ directory", source, err)
		}
	}
	vals, err := helmValues(in)
	if err != nil {
		return nil, err
	}
	opts := in.Input.HelmOptions
	if opts == nil {
		opts = &config.HelmOptions{}
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.DryRunOption = "client"
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = true
	install.DisableHooks = true
	install.ReleaseName = opts.ReleaseName
	if install.ReleaseName == "" {
		install.ReleaseName = in.AppName
	}
	install.Namespace = in.Input.Namespace
	if install.Namespace == "" {
		install.Namespace = "default"
	}
	install.APIVersions = chartutil.VersionSet(opts.APIVersions)
	if opts.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("render: helmOptions.kubeVersion %q: %w", opts.KubeVersion, err)
		}
		install.KubeVersion = kv
	}
	rel, err := install.RunWithContext(ctx, chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render: helm template %s: %w", source, err)
	}
	objs, err := parseManifests("helm template "+source, []byte(rel.Manifest))
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return objs, nil
}

// helmValues merges valueFiles, setValues and setFiles as `helm template -f
// --set --set-file` would. Files are relative to the application directory
// and must be inside the repository; remote value files are refused.
func helmValues(in RenderInput) (map[string]any, error) {
	opts := in.Input.HelmOptions
	if opts == nil {
		return map[string]any{}, nil
	}
	var v values.Options
	for _, f := range opts.ValueFiles {
		if strings.Contains(f, "://") {
			return nil, fmt.Errorf("render: helmOptions.valueFiles: %s: remote value files are not supported; commit the file to the repository", f)
		}
		path, err := in.inside(filepath.Join(in.AppDir, f))
		if err != nil {
			return nil, fmt.Errorf("render: helmOptions.valueFiles: %w", err)
		}
		v.ValueFiles = append(v.ValueFiles, path)
	}
	for _, k := range sortedKeys(opts.SetValues) {
		v.Values = append(v.Values, k+"="+opts.SetValues[k])
	}
	for _, k := range sortedKeys(opts.SetFiles) {
		path, err := in.inside(filepath.Join(in.AppDir, opts.SetFiles[k]))
		if err != nil {
			return nil, fmt.Errorf("render: helmOptions.setFiles.%s: %w", k, err)
		}
		v.FileValues = append(v.FileValues, k+"="+path)
	}
	merged, err := v.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("render: helm values: %w", err)
	}
	return merged, nil
}

// sortedKeys returns m's keys in order, so values merge the same way on
// every render.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// chartLabel names a chart for messages.
func chartLabel(c *chart.Chart) string {
	return c.Name() + "-" + c.Metadata.Version
}
