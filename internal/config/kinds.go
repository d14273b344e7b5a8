package config

// KubernetesSpec is the spec of a KubernetesApp.
type KubernetesSpec struct {
	GenericSpec    `yaml:",inline"`
	Input          KubernetesInput          `yaml:"input"`
	QuickSync      KubernetesQuickSync      `yaml:"quickSync"`
	Service        KubernetesService        `yaml:"service"`
	Workloads      []KubernetesWorkload     `yaml:"workloads"`
	TrafficRouting *KubernetesTrafficRoute  `yaml:"trafficRouting"`
	VariantLabel   KubernetesVariantLabel   `yaml:"variantLabel"`
	ResourceOrder  []string                 `yaml:"resourceOrder"`
	Deploy         *KubernetesDeployTargets `yaml:"deployTargets"`
}

// KubernetesInput says where the manifests come from and how to render
// them. The tool versions PipeCD accepts are accepted and ignored: Ferry
// renders in-process.
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

// KubernetesService names the app's Service for traffic routing.
type KubernetesService struct {
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
		VirtualService struct {
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

// KubernetesDeployTargets lists the platform providers (clusters) to deploy
// to when more than the agent's default.
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
