package stages

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// DefaultScriptTimeout bounds a script whose stage sets no timeout, as in
// PipeCD.
const DefaultScriptTimeout = 6 * time.Hour

// killGrace is how long a script has to exit after SIGTERM before it is
// killed.
const killGrace = 5 * time.Second

// ScriptRun is SCRIPT_RUN: it runs its `run` script with sh in a private
// copy of the application's directory, with env and the SR_* variables
// describing the deployment (SR_DEPLOYMENT_ID, SR_APPLICATION_ID,
// SR_APPLICATION_NAME, SR_TRIGGERED_AT, SR_TRIGGERED_COMMIT_HASH,
// SR_REPOSITORY_URL, SR_SUMMARY, SR_LABELS_<KEY>, SR_CONTEXT_RAW (all of
// them as JSON) and SR_IS_ROLLBACK), streaming its output into the stage
// log. A non-zero exit fails the stage. Of the agent's environment the
// script gets only inheritedEnv. The agent's config can turn it off
// (spec.stages.scriptRun.disabled).
type ScriptRun struct{}

// Execute implements platform.StageExecutor.
func (ScriptRun) Execute(ctx context.Context, in platform.StageInput) error {
	opts, err := platform.StageOptions[config.ScriptRunOptions](in)
	if err != nil {
		return err
	}
	return runScript(ctx, in, opts.Run, opts.Env, opts.Timeout.Std(), false)
}

// ScriptRunRollback is SCRIPT_RUN_ROLLBACK: during a rollback it runs the
// onRollback script of the SCRIPT_RUN stage it requires (the scheduler
// gives it that stage's config), with SR_IS_ROLLBACK=true.
type ScriptRunRollback struct{}

// Execute implements platform.StageExecutor.
func (ScriptRunRollback) Execute(ctx context.Context, in platform.StageInput) error {
	opts, err := platform.StageOptions[config.ScriptRunOptions](in)
	if err != nil {
		return err
	}
	if strings.TrimSpace(opts.OnRollback) == "" {
		in.Log.Info("No onRollback script: nothing to do")
		return nil
	}
	return runScript(ctx, in, opts.OnRollback, opts.Env, opts.Timeout.Std(), true)
}

// CustomSync is CUSTOM_SYNC (PipeCD's deprecated v0 stage): its `run`
// script replaces the platform's sync, run as SCRIPT_RUN runs scripts,
// with envs.
type CustomSync struct{}

// Execute implements platform.StageExecutor.
func (CustomSync) Execute(ctx context.Context, in platform.StageInput) error {
	opts, err := platform.StageOptions[config.CustomSyncOptions](in)
	if err != nil {
		return err
	}
	if strings.TrimSpace(opts.Run) == "" {
		return errors.New("run is required: the script that syncs the application")
	}
	return runScript(ctx, in, opts.Run, opts.Envs, opts.Timeout.Std(), false)
}

// runScript runs script with sh -c in a copy of the application directory.
func runScript(ctx context.Context, in platform.StageInput, script string, env map[string]string, timeout time.Duration, rollback bool) error {
	if timeout <= 0 {
		timeout = DefaultScriptTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the script ran longer than its timeout of %s", timeout))
	defer cancel()
	// The checkout is shared read-only; scripts may write where they run.
	work, err := os.MkdirTemp("", "ferry-script-")
	if err != nil {
		return fmt.Errorf("make the script's directory: %w", err)
	}
	defer os.RemoveAll(work)
	if in.AppDir != "" {
		if err := os.CopyFS(work, os.DirFS(in.AppDir)); err != nil {
			return fmt.Errorf("copy the application directory for the script: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Dir = work
	cmd.Env = scriptEnv(in.Deployment, rollback, env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole process group: a script's children stop with it.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = killGrace
	// The output goes through io.Pipes, not the command's own pipes, so
	// that Wait copies it and WaitDelay bounds that copy: a child that left
	// the process group and holds the output open cannot hold the stage
	// past killGrace after a cancel.
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, errW
	in.Log.Info("Running: " + firstLine(script))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); copyLines(outR, in.Log.Info) }()
	go func() { defer wg.Done(); copyLines(errR, in.Log.Error) }()
	if err := cmd.Start(); err != nil {
		outW.Close()
		errW.Close()
		wg.Wait()
		return fmt.Errorf("start the script: %w", err)
	}
	err = cmd.Wait()
	outW.Close()
	errW.Close()
	wg.Wait()
	if errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil {
		// The script exited well, but something it started outside its
		// process group still held its output: that was cut off.
		in.Log.Info(fmt.Sprintf("The script left a process holding its output; its output was cut off %s after the script exited", killGrace))
		err = nil
	}
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers
	}
	switch {
	case ctx.Err() != nil:
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
			return c
		}
		return ctx.Err()
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("the script exited with code %d", ee.ExitCode())
		}
		return fmt.Errorf("the script: %w", err)
	}
	in.Log.Success("The script succeeded")
	return nil
}

// maxLineBytes bounds one line of a script's output in the log; the rest
// of a longer line is dropped with a note, and the lines after it are kept.
const maxLineBytes = 1 << 20

// copyLines logs each line read from r until it ends.
func copyLines(r io.Reader, log func(string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	dropped := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if err == nil {
			chunk = chunk[:len(chunk)-1] // the newline
		}
		if room := maxLineBytes - len(line); len(chunk) > room {
			line, dropped = append(line, chunk[:max(room, 0)]...), dropped+len(chunk)-max(room, 0)
		} else {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // the line goes on
		}
		if text := strings.TrimSuffix(string(line), "\r"); text != "" || err == nil {
			if dropped > 0 {
				text += fmt.Sprintf(" … [line cut: %d more bytes]", dropped)
			}
			log(text)
		}
		if err != nil {
			_, _ = io.Copy(io.Discard, r)
			return
		}
		line, dropped = line[:0], 0
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

var notEnvChar = regexp.MustCompile(`[^A-Z0-9_]`)

// inheritedEnv are the only variables a script takes from the agent's
// environment: where programs are, who and where it runs, its language and
// time zone. The rest of that environment holds the agent's credentials
// (cloud keys, tokens; its own key is already gone from it, see
// config.Agent.Key), and whatever a script prints is in a stage log every
// viewer reads. A script that needs more gets it from its stage's env.
var inheritedEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"}

// defaultPath is a script's PATH when the agent has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// scriptEnv is a script's whole environment: inheritedEnv, the SR_*
// variables, then the stage's own env (which may override them).
func scriptEnv(d *ferryv1.Deployment, rollback bool, extra map[string]string) []string {
	vars := map[string]string{"PATH": defaultPath}
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	maps.Copy(vars, map[string]string{
		"SR_DEPLOYMENT_ID":         d.GetId(),
		"SR_APPLICATION_ID":        d.GetApplicationId(),
		"SR_APPLICATION_NAME":      d.GetApplicationName(),
		"SR_TRIGGERED_AT":          strconv.FormatInt(d.GetCreatedAt().AsTime().Unix(), 10),
		"SR_TRIGGERED_COMMIT_HASH": d.GetTrigger().GetCommit().GetHash(),
		"SR_REPOSITORY_URL":        repoURL(d),
		"SR_SUMMARY":               d.GetSummary(),
		"SR_IS_ROLLBACK":           strconv.FormatBool(rollback),
	})
	labels := d.GetLabels()
	for k, v := range labels {
		vars["SR_LABELS_"+notEnvChar.ReplaceAllString(strings.ToUpper(k), "_")] = v
	}
	raw, _ := json.Marshal(map[string]any{
		"deploymentID": d.GetId(), "applicationID": d.GetApplicationId(), "applicationName": d.GetApplicationName(),
		"triggeredAt": d.GetCreatedAt().AsTime().Unix(), "triggeredCommitHash": d.GetTrigger().GetCommit().GetHash(),
		"repositoryURL": repoURL(d), "summary": d.GetSummary(), "labels": labels, "isRollback": rollback,
	})
	vars["SR_CONTEXT_RAW"] = string(raw)
	maps.Copy(vars, extra)
	out := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// repoURL is the deployment's repository remote without any credentials.
func repoURL(d *ferryv1.Deployment) string {
	return model.RedactRemote(d.GetGitPath().GetRemote())
}
