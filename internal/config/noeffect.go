package config

import (
	"fmt"
	"strings"
)

// noEffectFields is the one list of the fields Ferry reads and does not act
// on yet. Each one set in a config becomes a Warning on the application,
// so its author sees that it does nothing; the change that implements a
// field removes it from here.
//
// field is the dotted path; a path starting with "input." is relative to
// where the Kubernetes fields were written (spec. or
// spec.plugins.kubernetes.), any other to the file.
var noEffectFields = []struct {
	field string
	set   func(c *AppConfig) bool
	why   string
}{
	// The agent's discovery drops this one when the agent has
	// secretManagement (see NoSecretManagementField).
	{NoSecretManagementField, func(c *AppConfig) bool { return c.Generic.Encryption != nil },
		"this agent has no secretManagement; the values are not decrypted, and a deployment that would render the decryption targets fails"},
	{"spec.attachment", func(c *AppConfig) bool { return c.Generic.Attachment != nil },
		"Ferry does not attach files to manifests yet: {{ .attachment.* }} stays in the manifests as written"},
	{"spec.notification.mentions", func(c *AppConfig) bool {
		return c.Generic.Notification != nil && len(c.Generic.Notification.Mentions) > 0
	}, "Ferry sends no notifications yet"},
	{"spec.eventWatcher", func(c *AppConfig) bool { return len(c.Generic.EventWatcher) > 0 },
		"Ferry has no event watcher yet: events do not update Git"},
	{"spec.postSync.chain", func(c *AppConfig) bool { return c.Generic.PostSync != nil && c.Generic.PostSync.Chain != nil },
		"Ferry runs no deployment chains yet: no application is deployed after this one"},
	{"spec.trigger.onChain", func(c *AppConfig) bool {
		// disabled: true is the default, which Ferry's behaviour matches.
		d := c.Generic.Trigger.OnChain.Disabled
		return d != nil && !*d
	}, "Ferry runs no deployment chains yet, so nothing triggers on a chain"},
	{"input.kubectlVersion", func(c *AppConfig) bool { return c.Kubernetes != nil && c.Kubernetes.Input.KubectlVersion != "" },
		"Ferry applies manifests through the Kubernetes API itself, with no kubectl"},
	{"input.kustomizeVersion", func(c *AppConfig) bool { return c.Kubernetes != nil && c.Kubernetes.Input.KustomizeVersion != "" },
		"Ferry builds Kustomize directories with the Kustomize it is built with"},
	{"input.helmVersion", func(c *AppConfig) bool { return c.Kubernetes != nil && c.Kubernetes.Input.HelmVersion != "" },
		"Ferry renders charts with the Helm it is built with"},
	{"spec.input.terraformVersion", func(c *AppConfig) bool { return c.Terraform != nil && c.Terraform.Input.TerraformVersion != "" },
		"Ferry does not pick Terraform versions"},
}

// NoSecretManagementField is the field of the warning an application with
// encryption gets, which an agent that can decrypt (spec.secretManagement)
// removes.
const NoSecretManagementField = "spec.encryption"

// noEffect returns a Warning for each field of c that Ferry does not act
// on: those of noEffectFields, every deploy target after the first, and
// the ANALYSIS options Ferry does not run.
func noEffect(c *AppConfig, data []byte) []Warning {
	var out []Warning
	add := func(field, msg string) {
		line, col := LocateKey(data, field)
		out = append(out, Warning{File: c.File, Line: line, Column: col, Field: field, Message: msg})
	}
	for _, f := range noEffectFields {
		if !f.set(c) {
			continue
		}
		field := f.field
		if rel, ok := strings.CutPrefix(field, "input."); ok && c.Kubernetes != nil {
			field = c.Kubernetes.fieldPrefix() + "input." + rel
		}
		add(field, "has no effect: "+f.why)
	}
	if k := c.Kubernetes; k != nil && k.Deploy != nil && len(k.Deploy.Names) > 1 {
		add("spec.deployTargets.names[1]", fmt.Sprintf("has no effect: Ferry deploys to the first deploy target only (%s); %s not deployed to",
			k.Deploy.Names[0], strings.Join(k.Deploy.Names[1:], ", ")+pick(len(k.Deploy.Names) > 2, " are", " is")))
	}
	if c.Generic.Pipeline != nil {
		for i, st := range c.Generic.Pipeline.Stages {
			o, ok := st.options.(*AnalysisOptions)
			if !ok {
				continue
			}
			at := fmt.Sprintf("spec.pipeline.stages[%d].with.", i)
			if len(o.Logs) > 0 {
				add(at+"logs", "Ferry runs no log analysis: a pipeline deployment with this stage is refused when it is planned; use metrics or https")
			}
			if o.RestartThreshold != 0 {
				add(at+"restartThreshold", "has no effect: neither Ferry nor PipeCD uses it")
			}
		}
	}
	return out
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}
