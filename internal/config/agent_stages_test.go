package config

import (
	"os"
	"strings"
	"testing"
)

// TestReadAgentTakesTheKeyOutOfTheEnvironment: what the agent starts
// (scripts above all) must not inherit $FERRY_AGENT_KEY.
func TestReadAgentTakesTheKeyOutOfTheEnvironment(t *testing.T) {
	t.Setenv(AgentKeyEnv, "the-key\n")
	a, err := ReadAgent(writeFile(t, "apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  agentID: a\n  apiAddress: http://127.0.0.1:8080\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := os.LookupEnv(AgentKeyEnv); ok {
		t.Errorf("$%s is still set after reading the config: %q", AgentKeyEnv, v)
	}
	if k, err := a.Key(); err != nil || k != "the-key" {
		t.Errorf("key = %q, %v; want the one the environment held", k, err)
	}
}

func TestAgentStagesCanBeDisabled(t *testing.T) {
	a, err := ReadAgent(writeFile(t, `apiVersion: ferry.dev/v1
kind: Agent
spec:
  agentID: a
  apiAddress: http://127.0.0.1:8080
  stages:
    scriptRun: {disabled: true}
    customSync: {disabled: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := a.DisabledStages()
	if len(got) != 1 || !strings.Contains(got["SCRIPT_RUN"], "spec.stages.scriptRun.disabled") {
		t.Errorf("disabled stages = %v, want SCRIPT_RUN with the field that disables it", got)
	}
	_, err = ReadAgent(writeFile(t, "apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  agentID: a\n  apiAddress: http://x\n  stages:\n    scriptRun: {disable: true}\n"))
	if err == nil || !strings.Contains(err.Error(), "disable") {
		t.Errorf("a misspelt switch = %v, want an error naming it", err)
	}
}
