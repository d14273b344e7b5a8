package config

// StageSkipOn returns the skipOn of a WAIT stage's options.
func (o *WaitOptions) StageSkipOn() *SkipOn { return o.SkipOn }

// StageSkipOn returns the skipOn of a WAIT_APPROVAL stage's options.
func (o *WaitApprovalOptions) StageSkipOn() *SkipOn { return o.SkipOn }

// StageSkipOn returns the skipOn of an ANALYSIS stage's options.
func (o *AnalysisOptions) StageSkipOn() *SkipOn { return o.SkipOn }

// StageSkipOn returns the skipOn of a SCRIPT_RUN stage's options.
func (o *ScriptRunOptions) StageSkipOn() *SkipOn { return o.SkipOn }

// AutoRollback reports whether the planner appends the rollback stages:
// planner.autoRollback when set, else the kind's input.autoRollback (where
// PipeCD's v0 configs set it), else true.
func (c *AppConfig) AutoRollback() bool {
	if c.Generic != nil && c.Generic.Planner.AutoRollback != nil {
		return *c.Generic.Planner.AutoRollback
	}
	var in *bool
	switch {
	case c.Kubernetes != nil:
		in = c.Kubernetes.Input.AutoRollback
	case c.Terraform != nil:
		in = c.Terraform.Input.AutoRollback
	case c.CloudRun != nil:
		in = c.CloudRun.Input.AutoRollback
	case c.Lambda != nil:
		in = c.Lambda.Input.AutoRollback
	case c.ECS != nil:
		in = c.ECS.Input.AutoRollback
	}
	return in == nil || *in
}
