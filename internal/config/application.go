package config

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
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

// KindApplication is PipeCD v1's one application kind, whose platform is
// given by the plugin under spec.plugins; Ferry reads it with the
// kubernetes plugin as a KubernetesApp.
const KindApplication = "Application"

// AppConfig is one parsed application config. Exactly one of the per-kind
// specs is set, matching Kind; Generic points into it.
type AppConfig struct {
	File       string
	APIVersion string
	// Kind is the application kind: KubernetesApp for PipeCD v1's
	// Application with the kubernetes plugin.
	Kind       string
	Generic    *GenericSpec
	Kubernetes *KubernetesSpec
	Terraform  *TerraformSpec
	CloudRun   *CloudRunSpec
	Lambda     *LambdaSpec
	ECS        *ECSSpec
	// Warnings are what the file says that Ferry accepts and does not act
	// on, in file order: unknown fields of a pipecd.dev/v1beta1 file, and
	// the fields listed in noeffect.go.
	Warnings []Warning
}

// Warning is a field of an application config that Ferry accepts but
// that has no effect. Applications carry their warnings so people see
// them where they look at the application.
type Warning struct {
	File string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Field is the dotted path of the field.
	Field   string
	Message string
}

// String formats the warning as "file:line:col: field: message".
func (w Warning) String() string {
	return (&Error{File: w.File, Line: w.Line, Column: w.Column, Field: w.Field, Message: w.Message}).Error()
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
//
// A ferry.dev/v1 file is strict: an unknown field is an error. A
// pipecd.dev/v1beta1 file is read as PipeCD reads it and more leniently:
// an unknown field, anywhere, is a Warning, so a PipeCD config that PipeCD
// accepts deploys unchanged. Either way the fields Ferry does not act on
// are Warnings too, and errors name the first offending field by its
// place in the file.
func ParseApp(file string, data []byte) (*AppConfig, error) {
	var h header
	if _, err := decode(file, data, &h, false); err != nil {
		return nil, err
	}
	if h.APIVersion != APIVersionFerry && h.APIVersion != APIVersionPipeCD {
		return nil, FieldError(file, data, "apiVersion", "must be %s or %s, not %q", APIVersionFerry, APIVersionPipeCD, h.APIVersion)
	}
	lenient := h.APIVersion == APIVersionPipeCD
	c := &AppConfig{File: file, APIVersion: h.APIVersion, Kind: h.Kind}
	var (
		unknown []finding
		err     error
	)
	switch h.Kind {
	case KindKubernetesApp, KindApplication:
		c.Kubernetes, unknown, err = decodeSpec[KubernetesSpec](file, data, lenient)
		if err == nil {
			c.Kind, c.Generic = KindKubernetesApp, &c.Kubernetes.GenericSpec
			err = c.Kubernetes.check(file, data, h.Kind)
		}
	case KindTerraformApp:
		c.Terraform, unknown, err = decodeSpec[TerraformSpec](file, data, lenient)
		if err == nil {
			c.Generic = &c.Terraform.GenericSpec
		}
	case KindCloudRunApp:
		c.CloudRun, unknown, err = decodeSpec[CloudRunSpec](file, data, lenient)
		if err == nil {
			c.Generic = &c.CloudRun.GenericSpec
		}
	case KindLambdaApp:
		c.Lambda, unknown, err = decodeSpec[LambdaSpec](file, data, lenient)
		if err == nil {
			c.Generic = &c.Lambda.GenericSpec
		}
	case KindECSApp:
		c.ECS, unknown, err = decodeSpec[ECSSpec](file, data, lenient)
		if err == nil {
			c.Generic = &c.ECS.GenericSpec
		}
	case "":
		return nil, FieldError(file, data, "kind", "is required: one of KubernetesApp, TerraformApp, CloudRunApp, LambdaApp, ECSApp (or PipeCD v1's Application)")
	default:
		return nil, FieldError(file, data, "kind", "unknown kind %q: use KubernetesApp, TerraformApp, CloudRunApp, LambdaApp, ECSApp or PipeCD v1's Application", h.Kind)
	}
	if err != nil {
		return nil, err
	}
	withUnknown, err := c.Generic.validate(file, data, lenient)
	if err != nil {
		return nil, err
	}
	for _, f := range append(unknown, withUnknown...) {
		c.Warnings = append(c.Warnings, f.warning(file))
	}
	c.Warnings = append(c.Warnings, noEffect(c, data)...)
	slices.SortStableFunc(c.Warnings, func(a, b Warning) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return c, nil
}

// warning turns an unknown field of a lenient file into its Warning.
func (f finding) warning(file string) Warning {
	msg := "unknown field, ignored: Ferry does not know it (check its spelling; in a ferry.dev/v1 file it is an error)"
	if f.message != "" {
		msg = f.message
	}
	return Warning{File: file, Line: f.line, Column: f.column, Field: f.field, Message: msg}
}

func decodeSpec[T any](file string, data []byte, lenient bool) (*T, []finding, error) {
	var d doc[T]
	unknown, err := decode(file, data, &d, !lenient)
	if err != nil {
		return nil, nil, err
	}
	return &d.Spec, unknown, nil
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

	// options are With decoded by ParseApp.
	options any
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

// validate checks the generic fields and decodes each stage's options.
// It returns the unknown options of a lenient (pipecd.dev/v1beta1) file,
// which PipeCD ignores; in a strict one they are errors.
func (g *GenericSpec) validate(file string, data []byte, lenient bool) ([]finding, error) {
	if g.Name == "" {
		return nil, FieldError(file, data, "spec.name", "is required: the application's name")
	}
	for _, f := range []struct{ field, expr string }{
		{"spec.commitMatcher.quickSync", g.CommitMatcher.QuickSync},
		{"spec.commitMatcher.pipeline", g.CommitMatcher.Pipeline},
	} {
		if _, err := regexp.Compile(f.expr); err != nil {
			return nil, FieldError(file, data, f.field, "is not a valid regular expression: %v", err)
		}
	}
	if g.Timeout < 0 {
		return nil, FieldError(file, data, "spec.timeout", "must not be negative")
	}
	if g.Trigger.OnOutOfSync.MinWindow < 0 {
		return nil, FieldError(file, data, "spec.trigger.onOutOfSync.minWindow", "must not be negative")
	}
	if g.Pipeline == nil {
		return nil, nil
	}
	var unknown []finding
	ids := map[string]bool{}
	for i := range g.Pipeline.Stages {
		st := &g.Pipeline.Stages[i]
		field := fmt.Sprintf("spec.pipeline.stages[%d]", i)
		if !stageNamePattern.MatchString(st.Name) {
			return nil, FieldError(file, data, field+".name", "stage name %q is missing or malformed: use a stage such as K8S_CANARY_ROLLOUT or WAIT", st.Name)
		}
		if st.ID == "" {
			st.ID = fmt.Sprintf("stage-%d", i)
		}
		if ids[st.ID] {
			return nil, FieldError(file, data, field+".id", "stage id %q is used twice", st.ID)
		}
		ids[st.ID] = true
		opts, known := NewStageOptions(st.Name)
		if !known {
			return nil, FieldError(file, data, field+".name", "unknown stage %q", st.Name)
		}
		found, err := st.decodeOptions(opts, field+".with")
		for _, f := range found {
			if !f.unknown || !lenient {
				return nil, f.err(file)
			}
			f.message = fmt.Sprintf("unknown option of %s, ignored: Ferry does not know it, and PipeCD ignores unknown options too", st.Name)
			unknown = append(unknown, f)
		}
		if err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				return nil, FieldError(file, data, field+".with."+fe.field, "%s", fe.msg)
			}
			return nil, locate(file, field+".with", err)
		}
	}
	return unknown, nil
}

// noOptions is the options type of a stage that takes none: every key in
// its `with` is unknown.
type noOptions struct{}

// decodeOptions checks the stage's `with` against opts' type, as path,
// decodes it into opts and keeps opts for StageOptions. The findings are
// the unknown keys and bad values, in file order; the error is a decoding
// or validation failure.
func (s *PipelineStage) decodeOptions(opts any, path string) ([]finding, error) {
	var found []finding
	if s.With != nil {
		t := reflect.TypeOf(noOptions{})
		if opts != nil {
			t = reflect.TypeOf(opts).Elem()
		}
		found = checkSchema(s.With, t, path)
		for _, f := range found {
			if !f.unknown {
				return found, nil
			}
		}
		if opts != nil {
			if err := yaml.NodeToValue(s.With, opts); err != nil {
				return found, err
			}
		}
	}
	if v, ok := opts.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			return found, err
		}
	}
	s.options = opts
	return found, nil
}

// StageOptions returns the stage's `with` options, decoded into the type
// its name selects (see NewStageOptions) and validated; nil for a stage
// that takes none. ParseApp has decoded them already; a stage built
// otherwise is decoded here, leniently.
func (s *PipelineStage) StageOptions() (any, error) {
	if s.options != nil {
		return s.options, nil
	}
	opts, known := NewStageOptions(s.Name)
	if !known {
		return nil, fmt.Errorf("unknown stage %q", s.Name)
	}
	if _, err := s.decodeOptions(opts, "with"); err != nil {
		return nil, err
	}
	return opts, nil
}

// fieldError is a validation failure of one option of a stage, at a path
// below its `with`.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

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
