package config

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Application config file names: app.ferry.yaml, or any *.pipecd.yaml.
const (
	DefaultAppConfigFile = "app.ferry.yaml"
	PipeCDConfigSuffix   = ".pipecd.yaml"
)

// IsAppConfigFile reports whether a file name is an application config.
func IsAppConfigFile(name string) bool {
	base := path.Base(name)
	return base == DefaultAppConfigFile || strings.HasSuffix(base, PipeCDConfigSuffix)
}

// The application kinds, as written in config files.
const (
	KindKubernetesApp = "KubernetesApp"
	KindTerraformApp  = "TerraformApp"
	KindCloudRunApp   = "CloudRunApp"
	KindLambdaApp     = "LambdaApp"
	KindECSApp        = "ECSApp"
)

// AppConfig is one parsed application config. Exactly one of the per-kind
// specs is set, matching Kind; Generic points into it.
type AppConfig struct {
	File       string
	APIVersion string
	Kind       string
	Generic    *GenericSpec
	Kubernetes *KubernetesSpec
	Terraform  *TerraformSpec
	CloudRun   *CloudRunSpec
	Lambda     *LambdaSpec
	ECS        *ECSSpec
}

type header struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Spec       map[string]any `yaml:"spec"`
}

type doc[T any] struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       T      `yaml:"spec"`
}

// ParseApp parses and validates an application config read from file. Both
// apiVersions are accepted, ferry.dev/v1 and pipecd.dev/v1beta1: the native
// schema uses PipeCD's field names, so a PipeCD file is a Ferry file.
func ParseApp(file string, data []byte) (*AppConfig, error) {
	var h header
	if err := Decode(file, data, &h); err != nil {
		// Strictness applies to the whole file below; here only a syntax
		// error can happen, since spec is a free map.
		return nil, err
	}
	if h.APIVersion != APIVersionFerry && h.APIVersion != APIVersionPipeCD {
		return nil, FieldError(file, data, "apiVersion", "must be %s or %s, not %q", APIVersionFerry, APIVersionPipeCD, h.APIVersion)
	}
	c := &AppConfig{File: file, APIVersion: h.APIVersion, Kind: h.Kind}
	var err error
	switch h.Kind {
	case KindKubernetesApp:
		c.Kubernetes, err = decodeSpec[KubernetesSpec](file, data)
		if err == nil {
			c.Generic = &c.Kubernetes.GenericSpec
		}
	case KindTerraformApp:
		c.Terraform, err = decodeSpec[TerraformSpec](file, data)
		if err == nil {
			c.Generic = &c.Terraform.GenericSpec
		}
	case KindCloudRunApp:
		c.CloudRun, err = decodeSpec[CloudRunSpec](file, data)
		if err == nil {
			c.Generic = &c.CloudRun.GenericSpec
		}
	case KindLambdaApp:
		c.Lambda, err = decodeSpec[LambdaSpec](file, data)
		if err == nil {
			c.Generic = &c.Lambda.GenericSpec
		}
	case KindECSApp:
		c.ECS, err = decodeSpec[ECSSpec](file, data)
		if err == nil {
			c.Generic = &c.ECS.GenericSpec
		}
	case "":
		return nil, FieldError(file, data, "kind", "is required: one of KubernetesApp, TerraformApp, CloudRunApp, LambdaApp, ECSApp")
	default:
		return nil, FieldError(file, data, "kind", "unknown kind %q: use KubernetesApp, TerraformApp, CloudRunApp, LambdaApp or ECSApp", h.Kind)
	}
	if err != nil {
		return nil, err
	}
	if err := c.Generic.validate(file, data); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeSpec[T any](file string, data []byte) (*T, error) {
	var d doc[T]
	if err := Decode(file, data, &d); err != nil {
		return nil, err
	}
	return &d.Spec, nil
}

// GenericSpec holds the fields every application kind shares.
type GenericSpec struct {
	Name           string            `yaml:"name"`
	Labels         map[string]string `yaml:"labels"`
	Description    string            `yaml:"description"`
	Planner        Planner           `yaml:"planner"`
	CommitMatcher  CommitMatcher     `yaml:"commitMatcher"`
	Pipeline       *Pipeline         `yaml:"pipeline"`
	Trigger        Trigger           `yaml:"trigger"`
	PostSync       *PostSync         `yaml:"postSync"`
	Timeout        Duration          `yaml:"timeout"`
	Encryption     *Encryption       `yaml:"encryption"`
	Attachment     *Attachment       `yaml:"attachment"`
	Notification   *Notification     `yaml:"notification"`
	EventWatcher   []EventWatcher    `yaml:"eventWatcher"`
	DriftDetection *DriftDetection   `yaml:"driftDetection"`
}

// Planner tunes how the planner picks quick sync or the pipeline.
type Planner struct {
	AlwaysUsePipeline bool `yaml:"alwaysUsePipeline"`
	// AutoRollback defaults to true; nil means unset.
	AutoRollback *bool `yaml:"autoRollback"`
}

// CommitMatcher forces a strategy when the commit message matches.
type CommitMatcher struct {
	QuickSync string `yaml:"quickSync"`
	Pipeline  string `yaml:"pipeline"`
}

// Pipeline is the ordered list of stages of a progressive deployment.
type Pipeline struct {
	Stages []PipelineStage `yaml:"stages"`
}

// PipelineStage is one stage as written in the config. With holds the raw
// options, already checked against the stage's options type.
type PipelineStage struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Desc    string   `yaml:"desc"`
	Timeout Duration `yaml:"timeout"`
	With    ast.Node `yaml:"with"`
	SkipOn  *SkipOn  `yaml:"skipOn"`
}

// SkipOn skips a stage by commit message prefix or when every changed file
// matches the paths.
type SkipOn struct {
	CommitMessagePrefixes []string `yaml:"commitMessagePrefixes"`
	Paths                 []string `yaml:"paths"`
}

// Trigger says which events create deployments.
type Trigger struct {
	OnCommit    OnCommit    `yaml:"onCommit"`
	OnCommand   OnCommand   `yaml:"onCommand"`
	OnOutOfSync OnOutOfSync `yaml:"onOutOfSync"`
	OnChain     OnChain     `yaml:"onChain"`
}

// OnCommit triggers on commits touching the app directory or Paths; a
// commit with any file matching Ignores never triggers.
type OnCommit struct {
	Disabled bool     `yaml:"disabled"`
	Paths    []string `yaml:"paths"`
	Ignores  []string `yaml:"ignores"`
}

// OnCommand triggers on a SYNC command.
type OnCommand struct {
	Disabled bool `yaml:"disabled"`
}

// OnOutOfSync triggers when drift is seen; off unless Disabled is false.
// MinWindow is the least time between the end of the application's last
// deployment and an out-of-sync one; unset (zero) means 5m, as in PipeCD.
type OnOutOfSync struct {
	Disabled  *bool    `yaml:"disabled"`
	MinWindow Duration `yaml:"minWindow"`
}

// OnChain triggers from a deployment chain; off by default.
type OnChain struct {
	Disabled *bool `yaml:"disabled"`
}

// PostSync runs after a successful deployment.
type PostSync struct {
	Chain *struct {
		Applications []struct {
			Name   string            `yaml:"name"`
			Kind   string            `yaml:"kind"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"applications"`
	} `yaml:"chain"`
}

// Encryption lists sealed secrets and the files they are decrypted into.
type Encryption struct {
	EncryptedSecrets  map[string]string `yaml:"encryptedSecrets"`
	DecryptionTargets []string          `yaml:"decryptionTargets"`
}

// Attachment injects file contents into manifests.
type Attachment struct {
	Sources map[string]string `yaml:"sources"`
	Targets []string          `yaml:"targets"`
}

// Notification adds per-event mentions.
type Notification struct {
	Mentions []struct {
		Event       string   `yaml:"event"`
		Slack       []string `yaml:"slack"`
		SlackUsers  []string `yaml:"slackUsers"`
		SlackGroups []string `yaml:"slackGroups"`
	} `yaml:"mentions"`
}

// EventWatcher updates Git when a matching event is registered.
type EventWatcher struct {
	Matcher struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"matcher"`
	Handler struct {
		Type   string `yaml:"type"`
		Config struct {
			CommitMessage   string `yaml:"commitMessage"`
			MakePullRequest bool   `yaml:"makePullRequest"`
			Replacements    []struct {
				File      string `yaml:"file"`
				YAMLField string `yaml:"yamlField"`
				JSONField string `yaml:"jsonField"`
				HCLField  string `yaml:"hclField"`
				Regex     string `yaml:"regex"`
			} `yaml:"replacements"`
		} `yaml:"config"`
	} `yaml:"handler"`
}

// DriftDetection lists fields drift detection ignores, each written
// "apiVersion:kind:namespace:name#yaml.path".
type DriftDetection struct {
	IgnoreFields []string `yaml:"ignoreFields"`
}

// OutOfSyncTriggerEnabled reports whether drift triggers deployments.
func (g *GenericSpec) OutOfSyncTriggerEnabled() bool {
	return g.Trigger.OnOutOfSync.Disabled != nil && !*g.Trigger.OnOutOfSync.Disabled
}

var stageNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func (g *GenericSpec) validate(file string, data []byte) error {
	if g.Name == "" {
		return FieldError(file, data, "spec.name", "is required: the application's name")
	}
	for _, f := range []struct{ field, expr string }{
		{"spec.commitMatcher.quickSync", g.CommitMatcher.QuickSync},
		{"spec.commitMatcher.pipeline", g.CommitMatcher.Pipeline},
	} {
		if _, err := regexp.Compile(f.expr); err != nil {
			return FieldError(file, data, f.field, "is not a valid regular expression: %v", err)
		}
	}
	if g.Timeout < 0 {
		return FieldError(file, data, "spec.timeout", "must not be negative")
	}
	if g.Trigger.OnOutOfSync.MinWindow < 0 {
		return FieldError(file, data, "spec.trigger.onOutOfSync.minWindow", "must not be negative")
	}
	if g.Pipeline == nil {
		return nil
	}
	ids := map[string]bool{}
	for i := range g.Pipeline.Stages {
		st := &g.Pipeline.Stages[i]
		field := fmt.Sprintf("spec.pipeline.stages[%d]", i)
		if !stageNamePattern.MatchString(st.Name) {
			return FieldError(file, data, field+".name", "stage name %q is missing or malformed: use a stage such as K8S_CANARY_ROLLOUT or WAIT", st.Name)
		}
		if st.ID == "" {
			st.ID = fmt.Sprintf("stage-%d", i)
		}
		if ids[st.ID] {
			return FieldError(file, data, field+".id", "stage id %q is used twice", st.ID)
		}
		ids[st.ID] = true
		opts, known := NewStageOptions(st.Name)
		if !known {
			return FieldError(file, data, field+".name", "unknown stage %q", st.Name)
		}
		if st.With != nil && opts != nil {
			if err := yaml.NodeToValue(st.With, opts, yaml.Strict()); err != nil {
				return locate(file, field+".with", err)
			}
		}
		if v, ok := opts.(interface{ validate() error }); ok {
			if err := v.validate(); err != nil {
				return FieldError(file, data, field+".with", "%v", err)
			}
		}
	}
	return nil
}

// StageOptions decodes a stage's `with` options into the type its name
// selects (see NewStageOptions).
func (s *PipelineStage) StageOptions() (any, error) {
	opts, known := NewStageOptions(s.Name)
	if !known {
		return nil, fmt.Errorf("unknown stage %q", s.Name)
	}
	if s.With != nil && opts != nil {
		if err := yaml.NodeToValue(s.With, opts, yaml.Strict()); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// locate turns a YAML library error into an *Error at its token.
func locate(file, field string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: file, Field: field, Message: cleanMessage(ye.GetMessage())}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return &Error{File: file, Field: field, Message: err.Error()}
}
