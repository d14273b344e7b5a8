package stages

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/platform"
)

// lines is a platform.Logger that keeps what it is told.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string)     { l.mu.Lock(); l.all = append(l.all, s); l.mu.Unlock() }
func (l *lines) Info(s string)    { l.add(s) }
func (l *lines) Success(s string) { l.add(s) }
func (l *lines) Error(s string)   { l.add(s) }

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// TestAProcessThatLeftTheScriptsGroupDoesNotHoldTheStage runs a script
// that starts a process in a session of its own (out of reach of the
// process-group kill) holding the script's output, then exits: the stage
// ends with the script, its output cut off after killGrace, while that
// process still runs.
func TestAProcessThatLeftTheScriptsGroupDoesNotHoldTheStage(t *testing.T) {
	log := &lines{}
	in := platform.StageInput{Deployment: &ferryv1.Deployment{Id: "d1"}, Log: log}
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `setsid sh -c 'echo $$ > "` + pidFile + `"; exec sleep 3600' & echo started`
	err := runScript(context.Background(), in, script, nil, time.Minute, false)
	if err != nil {
		t.Fatalf("runScript: %v\nlog:\n%s", err, log)
	}
	b, rerr := os.ReadFile(pidFile)
	pid, aerr := strconv.Atoi(strings.TrimSpace(string(b)))
	if rerr != nil || aerr != nil {
		t.Fatalf("the left process's pid: %v %v", rerr, aerr)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the left process is gone (%v): the stage waited for it rather than end with the script", err)
	}
	for _, want := range []string{"started", "left a process holding its output", "The script succeeded"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// TestAScriptGetsAMinimalEnvironment: a script that prints its environment
// shows the SR_* variables, its stage's env and what it needs to run
// programs, never the agent's key or credentials, as every viewer reads
// the stage log.
func TestAScriptGetsAMinimalEnvironment(t *testing.T) {
	t.Setenv("FERRY_AGENT_KEY", "agent-key-s3cret")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-s3cret")
	t.Setenv("PATH", "/usr/bin:/bin")
	log := &lines{}
	in := platform.StageInput{Log: log, Deployment: &ferryv1.Deployment{
		Id: "d1", ApplicationName: "web",
		GitPath: &ferryv1.GitPath{Remote: "https://bot:git-s3cret@git.example.com/org/apps.git"},
	}}
	if err := runScript(context.Background(), in, "env", map[string]string{"GREETING": "hello"}, time.Minute, false); err != nil {
		t.Fatalf("runScript: %v\nlog:\n%s", err, log)
	}
	out := log.String()
	for _, want := range []string{"PATH=/usr/bin:/bin", "SR_DEPLOYMENT_ID=d1", "SR_APPLICATION_NAME=web",
		"SR_REPOSITORY_URL=https://git.example.com/org/apps.git", "GREETING=hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("the script's environment lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"agent-key-s3cret", "aws-s3cret", "git-s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("the script's environment shows %q:\n%s", secret, out)
		}
	}
}
