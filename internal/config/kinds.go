package config

import (
	"github.com/goccy/go-yaml/ast"
)

// KubernetesSpec is the spec of a KubernetesApp. The Kubernetes fields sit
// under spec in PipeCD v0's form, or under spec.plugins.kubernetes in
// PipeCD v1's; either way they end up in KubernetesPlugin.
type KubernetesSpec struct {
	GenericSpec      `yaml:",inline"`
	KubernetesPlugin `yaml:",inline"`
	Deploy           *KubernetesDeployTargets `yaml:"deployTargets"`
	// Plugins is PipeCD v1's form; see KubernetesSpec.check.
	Plugins *Plugins `yaml:"plugins"`
}

// KubernetesPlugin holds the Kubernetes fields of an application: those of
// PipeCD's KubernetesApp spec, and of its v1 kubernetes plugin.
type KubernetesPlugin struct {
	Input          KubernetesInput         `yaml:"input"`
	QuickSync      KubernetesQuickSync     `yaml:"quickSync"`
	Service        KubernetesService       `yaml:"service"`
	Workloads      []KubernetesWorkload    `yaml:"workloads"`
	TrafficRouting *KubernetesTrafficRoute `yaml:"trafficRouting"`
	VariantLabel   KubernetesVariantLabel  `yaml:"variantLabel"`
}

// Plugins is PipeCD v1's spec.plugins, by plugin name. Ferry reads the
// kubernetes plugin's; kubernetes_multicluster is refused (Ferry deploys
// an application to one cluster), and other plugins' keys are unknown.
type Plugins struct {
	Kubernetes             *KubernetesPlugin `yaml:"kubernetes"`
	KubernetesMulticluster ast.Node          `yaml:"kubernetes_multicluster"`
}

// pluginFields are the YAML names of KubernetesPlugin's fields, in order.
var pluginFields = []string{"input", "quickSync", "service", "workloads", "trafficRouting", "variantLabel"}

// check validates the Kubernetes fields and moves PipeCD v1's
// spec.plugins.kubernetes into place. kind is the kind as written.
func (k *KubernetesSpec) check(file string, data []byte, kind string) error {
	if k.Plugins != nil && k.Plugins.KubernetesMulticluster != nil {
		return FieldError(file, data, "spec.plugins.kubernetes_multicluster",
			"Ferry deploys an application to one cluster and does not run the K8S_MULTI_* stages: use plugins.kubernetes, one application per cluster")
	}
	if k.Plugins != nil && k.Plugins.Kubernetes != nil {
		for _, f := range pluginFields {
			if line, _ := Locate(data, "spec."+f); line > 0 {
				return FieldError(file, data, "spec."+f, "is also set under spec.plugins.kubernetes: write the Kubernetes fields in one place")
			}
		}
		k.KubernetesPlugin = *k.Plugins.Kubernetes
	} else if kind == KindApplication {
		return FieldError(file, data, "spec.plugins", "kind Application needs spec.plugins.kubernetes: Ferry deploys PipeCD v1 applications with the kubernetes plugin only")
	}
	prefix := k.fieldPrefix()
	if s := k.Service.Kind; s != "" && s != "Service" {
		return FieldError(file, data, prefix+"service.kind", "must be Service, not %q", s)
	}
	if ist := k.TrafficRouting; ist != nil && ist.Istio != nil {
		if s := ist.Istio.VirtualService.Kind; s != "" && s != "VirtualService" {
			return FieldError(file, data, prefix+"trafficRouting.istio.virtualService.kind", "must be VirtualService, not %q", s)
		}
	}
	return nil
}

// fieldPrefix is where the Kubernetes fields were written: "spec." or
// "spec.plugins.kubernetes.".
func (k *KubernetesSpec) fieldPrefix() string {
	if k.Plugins != nil && k.Plugins.Kubernetes != nil {
		return "spec.plugins.kubernetes."
	}
	return "spec."
}

// KubernetesInput says where the manifests come from and how to render
// them. The tool versions PipeCD accepts are accepted with a warning (see
// noeffect.go): Ferry renders and applies in-process.
type KubernetesInput struct {
	Manifests           []string          `yaml:"manifests"`
	KubectlVersion      string            `yaml:"kubectlVersion"`
	KustomizeVersion    string            `yaml:"kustomizeVersion"`
	KustomizeOptions    map[string]string `yaml:"kustomizeOptions"`
	HelmVersion         string            `yaml:"helmVersion"`
	HelmChart           *HelmChart        `yaml:"helmChart"`
	HelmOptions         *HelmOptions      `yaml:"helmOptions"`
	Namespace           string            `yaml:"namespace"`
	AutoRollback        *bool             `yaml:"autoRollback"`
	AutoCreateNamespace bool              `yaml:"autoCreateNamespace"`
}

// HelmChart locates a chart: a path in the repo, a chart repository, an OCI
// registry, or another Git remote.
type HelmChart struct {
	GitRemote  string `yaml:"gitRemote"`
	Ref        string `yaml:"ref"`
	Path       string `yaml:"path"`
	Repository string `yaml:"repository"`
	Name       string `yaml:"name"`
	Version    string `yaml:"version"`
	Insecure   bool   `yaml:"insecure"`
}

// HelmOptions are `helm template` options.
type HelmOptions struct {
	ReleaseName string            `yaml:"releaseName"`
	SetValues   map[string]string `yaml:"setValues"`
	ValueFiles  []string          `yaml:"valueFiles"`
	SetFiles    map[string]string `yaml:"setFiles"`
	APIVersions []string          `yaml:"apiVersions"`
	KubeVersion string            `yaml:"kubeVersion"`
}

// KubernetesQuickSync tunes K8S_SYNC.
type KubernetesQuickSync struct {
	AddVariantLabelToSelector bool `yaml:"addVariantLabelToSelector"`
	Prune                     bool `yaml:"prune"`
}

// KubernetesService names the app's Service for traffic routing. Kind is
// PipeCD's resource reference kind: Service when set.
type KubernetesService struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

// KubernetesWorkload names a workload the planner watches for changes.
type KubernetesWorkload struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

// KubernetesTrafficRoute picks the traffic routing method.
type KubernetesTrafficRoute struct {
	Method string `yaml:"method"`
	Istio  *struct {
		EditableRoutes []string `yaml:"editableRoutes"`
		Host           string   `yaml:"host"`
		// VirtualService names the VirtualService; Kind, PipeCD's resource
		// reference kind, is VirtualService when set.
		VirtualService struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"virtualService"`
	} `yaml:"istio"`
	GatewayAPI *struct {
		HTTPRoute struct {
			Name string `yaml:"name"`
		} `yaml:"httpRoute"`
		Rules []int `yaml:"rules"`
	} `yaml:"gatewayAPI"`
}

// KubernetesVariantLabel is the label that tells variants apart.
type KubernetesVariantLabel struct {
	Key           string `yaml:"key"`
	PrimaryValue  string `yaml:"primaryValue"`
	CanaryValue   string `yaml:"canaryValue"`
	BaselineValue string `yaml:"baselineValue"`
}

// KubernetesDeployTargets names the platform provider (cluster) to deploy
// to instead of the agent's default: the first name; the others have no
// effect (see noeffect.go).
type KubernetesDeployTargets struct {
	Names []string `yaml:"names"`
}

// TerraformSpec is the spec of a TerraformApp.
type TerraformSpec struct {
	GenericSpec `yaml:",inline"`
	Input       struct {
		Workspace        string   `yaml:"workspace"`
		TerraformVersion string   `yaml:"terraformVersion"`
		Vars             []string `yaml:"vars"`
		VarFiles         []string `yaml:"varFiles"`
		CommandFlags     struct {
			Shared []string `yaml:"shared"`
			Init   []string `yaml:"init"`
			Plan   []string `yaml:"plan"`
			Apply  []string `yaml:"apply"`
		} `yaml:"commandFlags"`
		CommandEnvs struct {
			Shared []string `yaml:"shared"`
			Init   []string `yaml:"init"`
			Plan   []string `yaml:"plan"`
			Apply  []string `yaml:"apply"`
		} `yaml:"commandEnvs"`
		AutoRollback *bool `yaml:"autoRollback"`
	} `yaml:"input"`
}

// CloudRunSpec is the spec of a CloudRunApp.
type CloudRunSpec struct {
	GenericSpec `yaml:",inline"`
	Input       struct {
		ServiceManifestFile string `yaml:"serviceManifestFile"`
		AutoRollback        *bool  `yaml:"autoRollback"`
	} `yaml:"input"`
}

// LambdaSpec is the spec of a LambdaApp.
type LambdaSpec struct {
	GenericSpec `yaml:",inline"`
	Input       struct {
		FunctionManifestFile string `yaml:"functionManifestFile"`
		AutoRollback         *bool  `yaml:"autoRollback"`
	} `yaml:"input"`
}

// ECSSpec is the spec of an ECSApp.
type ECSSpec struct {
	GenericSpec `yaml:",inline"`
	Input       struct {
		ServiceDefinitionFile string `yaml:"serviceDefinitionFile"`
		TaskDefinitionFile    string `yaml:"taskDefinitionFile"`
		TargetGroups          struct {
			Primary map[string]any `yaml:"primary"`
			Canary  map[string]any `yaml:"canary"`
		} `yaml:"targetGroups"`
		RunStandaloneTask *bool  `yaml:"runStandaloneTask"`
		AccessType        string `yaml:"accessType"`
		AutoRollback      *bool  `yaml:"autoRollback"`
	} `yaml:"input"`
	QuickSync struct {
		Recreate bool `yaml:"recreate"`
	} `yaml:"quickSync"`
}
