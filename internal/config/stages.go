package config

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// NewStageOptions returns a pointer to a zero options value for the named
// stage, and whether the stage is known. Stages without options return nil.
func NewStageOptions(name string) (any, bool) {
	switch name {
	case "WAIT":
		return &WaitOptions{}, true
	case "WAIT_APPROVAL":
		return &WaitApprovalOptions{}, true
	case "ANALYSIS":
		return &AnalysisOptions{}, true
	case "SCRIPT_RUN":
		return &ScriptRunOptions{}, true
	case "CUSTOM_SYNC":
		return &CustomSyncOptions{}, true
	case "K8S_SYNC":
		return &K8sSyncOptions{}, true
	case "K8S_PRIMARY_ROLLOUT":
		return &K8sPrimaryRolloutOptions{}, true
	case "K8S_CANARY_ROLLOUT":
		return &K8sCanaryRolloutOptions{}, true
	case "K8S_BASELINE_ROLLOUT":
		return &K8sBaselineRolloutOptions{}, true
	case "K8S_TRAFFIC_ROUTING":
		return &K8sTrafficRoutingOptions{}, true
	case "K8S_CANARY_CLEAN", "K8S_BASELINE_CLEAN", "K8S_ROLLBACK", "ROLLBACK", "SCRIPT_RUN_ROLLBACK",
		"TERRAFORM_SYNC", "TERRAFORM_APPLY", "TERRAFORM_ROLLBACK", "CLOUDRUN_SYNC", "CLOUDRUN_ROLLBACK",
		"LAMBDA_SYNC", "LAMBDA_CANARY_ROLLOUT", "LAMBDA_ROLLBACK", "ECS_SYNC", "ECS_PRIMARY_ROLLOUT",
		"ECS_CANARY_CLEAN", "ECS_ROLLBACK":
		return nil, true
	case "TERRAFORM_PLAN":
		return &TerraformPlanOptions{}, true
	case "CLOUDRUN_PROMOTE", "LAMBDA_PROMOTE":
		return &PromoteOptions{}, true
	case "ECS_CANARY_ROLLOUT":
		return &ECSCanaryRolloutOptions{}, true
	case "ECS_TRAFFIC_ROUTING":
		return &ECSTrafficRoutingOptions{}, true
	}
	return nil, false
}

// WaitOptions are WAIT's options.
type WaitOptions struct {
	Duration Duration `yaml:"duration"`
	SkipOn   *SkipOn  `yaml:"skipOn"`
}

func (o *WaitOptions) validate() error {
	if o.Duration <= 0 {
		return fmt.Errorf("duration is required and must be positive")
	}
	return nil
}

// WaitApprovalOptions are WAIT_APPROVAL's options.
type WaitApprovalOptions struct {
	Approvers      []string `yaml:"approvers"`
	MinApproverNum int      `yaml:"minApproverNum"`
	Timeout        Duration `yaml:"timeout"`
	SkipOn         *SkipOn  `yaml:"skipOn"`
}

func (o *WaitApprovalOptions) validate() error {
	if o.MinApproverNum < 0 {
		return fmt.Errorf("minApproverNum must not be negative")
	}
	if len(o.Approvers) > 0 && o.MinApproverNum > len(o.Approvers) {
		return fmt.Errorf("minApproverNum %d is more than the %d approvers listed", o.MinApproverNum, len(o.Approvers))
	}
	return nil
}

// AnalysisOptions are ANALYSIS's options.
type AnalysisOptions struct {
	Duration         Duration          `yaml:"duration"`
	Metrics          []AnalysisMetrics `yaml:"metrics"`
	Logs             []map[string]any  `yaml:"logs"`
	HTTPS            []AnalysisHTTP    `yaml:"https"`
	RestartThreshold int               `yaml:"restartThreshold"`
	SkipOn           *SkipOn           `yaml:"skipOn"`
}

func (o *AnalysisOptions) validate() error {
	if o.Duration <= 0 {
		return fmt.Errorf("duration is required and must be positive")
	}
	return nil
}

// AnalysisMetrics is one metric query of an ANALYSIS stage.
type AnalysisMetrics struct {
	Strategy     string               `yaml:"strategy"`
	Provider     string               `yaml:"provider"`
	Query        string               `yaml:"query"`
	Expected     AnalysisExpected     `yaml:"expected"`
	Interval     Duration             `yaml:"interval"`
	FailureLimit int                  `yaml:"failureLimit"`
	SkipOnNoData bool                 `yaml:"skipOnNoData"`
	Deviation    string               `yaml:"deviation"`
	BaselineArgs map[string]string    `yaml:"baselineArgs"`
	CanaryArgs   map[string]string    `yaml:"canaryArgs"`
	PrimaryArgs  map[string]string    `yaml:"primaryArgs"`
	Timeout      Duration             `yaml:"timeout"`
	Template     *AnalysisTemplateRef `yaml:"template"`
}

// AnalysisExpected bounds a metric value.
type AnalysisExpected struct {
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
}

// AnalysisHTTP is one HTTP check of an ANALYSIS stage.
type AnalysisHTTP struct {
	URL              string               `yaml:"url"`
	Method           string               `yaml:"method"`
	Headers          []map[string]string  `yaml:"headers"`
	ExpectedCode     int                  `yaml:"expectedCode"`
	ExpectedResponse string               `yaml:"expectedResponse"`
	Interval         Duration             `yaml:"interval"`
	FailureLimit     int                  `yaml:"failureLimit"`
	SkipOnNoData     bool                 `yaml:"skipOnNoData"`
	Timeout          Duration             `yaml:"timeout"`
	Template         *AnalysisTemplateRef `yaml:"template"`
}

// AnalysisTemplateRef uses a template from the repository's .pipe folder.
type AnalysisTemplateRef struct {
	Name    string            `yaml:"name"`
	AppArgs map[string]string `yaml:"appArgs"`
}

// ScriptRunOptions are SCRIPT_RUN's options.
type ScriptRunOptions struct {
	Run        string            `yaml:"run"`
	Env        map[string]string `yaml:"env"`
	Timeout    Duration          `yaml:"timeout"`
	OnRollback string            `yaml:"onRollback"`
	SkipOn     *SkipOn           `yaml:"skipOn"`
}

func (o *ScriptRunOptions) validate() error {
	if strings.TrimSpace(o.Run) == "" {
		return fmt.Errorf("run is required: the script to run")
	}
	return nil
}

// CustomSyncOptions are CUSTOM_SYNC's options.
type CustomSyncOptions struct {
	Run     string            `yaml:"run"`
	Envs    map[string]string `yaml:"envs"`
	Timeout Duration          `yaml:"timeout"`
}

// K8sSyncOptions are K8S_SYNC's options.
type K8sSyncOptions struct {
	AddVariantLabelToSelector bool `yaml:"addVariantLabelToSelector"`
	Prune                     bool `yaml:"prune"`
}

// K8sPrimaryRolloutOptions are K8S_PRIMARY_ROLLOUT's options.
type K8sPrimaryRolloutOptions struct {
	Suffix                    string `yaml:"suffix"`
	CreateService             bool   `yaml:"createService"`
	AddVariantLabelToSelector bool   `yaml:"addVariantLabelToSelector"`
	Prune                     bool   `yaml:"prune"`
}

// K8sCanaryRolloutOptions are K8S_CANARY_ROLLOUT's options.
type K8sCanaryRolloutOptions struct {
	Replicas      Replicas   `yaml:"replicas"`
	Suffix        string     `yaml:"suffix"`
	CreateService bool       `yaml:"createService"`
	Patches       []K8sPatch `yaml:"patches"`
}

// K8sPatch edits one manifest of a canary.
type K8sPatch struct {
	Target struct {
		Kind         string `yaml:"kind"`
		Name         string `yaml:"name"`
		DocumentRoot string `yaml:"documentRoot"`
	} `yaml:"target"`
	Ops []K8sPatchOp `yaml:"ops"`
}

// K8sPatchOp is one edit of a patch. Op defaults to yaml-replace, as in
// PipeCD.
type K8sPatchOp struct {
	Op    string `yaml:"op"`
	Path  string `yaml:"path"`
	Value string `yaml:"value"`
}

// The patch operations.
const (
	PatchYAMLReplace = "yaml-replace"
	PatchYAMLAdd     = "yaml-add"
	PatchYAMLRemove  = "yaml-remove"
	PatchJSONReplace = "json-replace"
	PatchTextRegex   = "text-regex"
)

// validate defaults each op to yaml-replace and refuses unknown ones, so
// a patch is complete when the config is read, not when the canary runs.
func (o *K8sCanaryRolloutOptions) validate() error {
	for i := range o.Patches {
		for j := range o.Patches[i].Ops {
			op := &o.Patches[i].Ops[j]
			switch op.Op {
			case "":
				op.Op = PatchYAMLReplace
			case PatchYAMLReplace, PatchYAMLAdd, PatchYAMLRemove, PatchJSONReplace, PatchTextRegex:
			default:
				return &fieldError{fmt.Sprintf("patches[%d].ops[%d].op", i, j),
					fmt.Sprintf("unknown op %q: use yaml-replace (the default), yaml-add, yaml-remove, json-replace or text-regex", op.Op)}
			}
		}
	}
	return nil
}

// K8sBaselineRolloutOptions are K8S_BASELINE_ROLLOUT's options.
type K8sBaselineRolloutOptions struct {
	Replicas      Replicas `yaml:"replicas"`
	Suffix        string   `yaml:"suffix"`
	CreateService bool     `yaml:"createService"`
}

// K8sTrafficRoutingOptions are K8S_TRAFFIC_ROUTING's options.
type K8sTrafficRoutingOptions struct {
	All      string     `yaml:"all"`
	Primary  Percentage `yaml:"primary"`
	Canary   Percentage `yaml:"canary"`
	Baseline Percentage `yaml:"baseline"`
}

func (o *K8sTrafficRoutingOptions) validate() error {
	switch o.All {
	case "", "primary", "canary", "baseline":
	default:
		return fmt.Errorf("all must be primary, canary or baseline, not %q", o.All)
	}
	if o.All == "" {
		if sum := o.Primary + o.Canary + o.Baseline; sum != 100 && sum != 0 {
			return fmt.Errorf("primary, canary and baseline add up to %d%%, not 100%%", sum)
		}
	}
	return nil
}

// TerraformPlanOptions are TERRAFORM_PLAN's options.
type TerraformPlanOptions struct {
	ExitOnNoChanges bool `yaml:"exitOnNoChanges"`
}

// PromoteOptions are CLOUDRUN_PROMOTE's and LAMBDA_PROMOTE's options.
type PromoteOptions struct {
	Percent Percentage `yaml:"percent"`
}

// ECSCanaryRolloutOptions are ECS_CANARY_ROLLOUT's options.
type ECSCanaryRolloutOptions struct {
	Scale Percentage `yaml:"scale"`
}

// ECSTrafficRoutingOptions are ECS_TRAFFIC_ROUTING's options.
type ECSTrafficRoutingOptions struct {
	Primary Percentage `yaml:"primary"`
	Canary  Percentage `yaml:"canary"`
}

// Replicas is a replica count, or a percentage of the primary's ("20%").
type Replicas struct {
	Number       int
	IsPercentage bool
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Replicas) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 {
		return fmt.Errorf("replicas %q: write a number such as 2, or a percentage such as 20%%", s)
	}
	*r = Replicas{Number: n, IsPercentage: pct}
	return nil
}

// UnmarshalYAML decodes a replica count, reporting errors at their line.
func (r *Replicas) UnmarshalYAML(_ context.Context, node ast.Node) error {
	return unmarshalScalar(node, "a number or a percentage", r.UnmarshalText)
}

// Calculate returns the replica count given the primary's, at least 1.
func (r Replicas) Calculate(primary int) int {
	if !r.IsPercentage {
		if r.Number == 0 {
			return 1
		}
		return r.Number
	}
	n := (primary*r.Number + 99) / 100
	if n < 1 {
		n = 1
	}
	return n
}

// Percentage is 10, "10" or "10%": all mean ten percent.
type Percentage int

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Percentage) UnmarshalText(b []byte) error {
	s := strings.TrimSuffix(strings.TrimSpace(string(b)), "%")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 100 {
		return fmt.Errorf("percentage %q: write a number from 0 to 100, optionally with %%", string(b))
	}
	*p = Percentage(n)
	return nil
}

// UnmarshalYAML decodes a percentage, reporting errors at their line.
func (p *Percentage) UnmarshalYAML(_ context.Context, node ast.Node) error {
	return unmarshalScalar(node, "a percentage", p.UnmarshalText)
}
