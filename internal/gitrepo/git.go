package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runner runs the git CLI with an environment that makes it predictable: no
// prompts, no user or system config, English messages, and no GIT_*
// variables leaking in from the agent's own environment (a GIT_DIR set by a
// hook that started the agent would otherwise point every command elsewhere).
type runner struct {
	path    string
	timeout time.Duration
	env     []string    // base environment, computed once
	config  [][2]string // config every command gets, via GIT_CONFIG_COUNT
	auth    [][2]string // config only network commands get (the token header)
	secrets []string    // strings redacted from every error
}

// fixedConfig is passed to every git command. gc.autoDetach=false keeps an
// automatic gc in the foreground of the fetch that triggered it: a detached
// gc would hold locks the next fetch mistakes for stale ones.
var fixedConfig = [][2]string{
	{"gc.autoDetach", "false"},
	{"maintenance.autoDetach", "false"},
	{"core.hooksPath", "/dev/null"},
	{"core.excludesFile", "/dev/null"},
	{"core.attributesFile", "/dev/null"},
	{"advice.detachedHead", "false"},
	{"init.defaultBranch", "main"},
}

func newRunner(path string, timeout time.Duration, extraEnv []string, auth [][2]string, secrets []string) *runner {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_LITERAL_PATHSPECS=1",
		"LC_ALL=C",
	)
	env = append(env, extraEnv...)
	return &runner{path: path, timeout: timeout, env: env, config: fixedConfig, auth: auth, secrets: secrets}
}

// call is one git invocation.
type call struct {
	args     []string
	gitDir   string    // GIT_DIR; set for every command on an existing repository
	workTree string    // GIT_WORK_TREE, for commands in a worktree
	dir      string    // working directory; defaults to workTree or gitDir's parent
	stdin    io.Reader // optional
	stdout   io.Writer // optional; run then returns no output of its own
	env      []string  // extra variables (identities)
	network  bool      // the command talks to the remote and needs its credentials
}

// run runs c bounded by the runner's timeout and returns its stdout. A
// failure is a *gitError whose text is already sanitised.
func (r *runner) run(ctx context.Context, c call) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, r.path, c.args...)
	cmd.Env = append(append([]string(nil), r.env...), c.env...)
	config := r.config
	if c.network {
		config = append(append([][2]string(nil), r.config...), r.auth...)
	}
	cmd.Env = append(cmd.Env, configEnv(config)...)
	if c.gitDir != "" {
		cmd.Env = append(cmd.Env, "GIT_DIR="+c.gitDir)
	}
	if c.workTree != "" {
		cmd.Env = append(cmd.Env, "GIT_WORK_TREE="+c.workTree)
	}
	switch {
	case c.dir != "":
		cmd.Dir = c.dir
	case c.workTree != "":
		cmd.Dir = c.workTree
	default:
		// Not gitDir itself: when it is gone git should say so, not exec
		// fail on chdir.
		cmd.Dir = filepath.Dir(c.gitDir)
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, stderr, c.stdin
	if c.stdout != nil {
		cmd.Stdout = c.stdout
	}
	killProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second

	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return stdout.Bytes(), &gitError{
			cmd:    subcommand(c.args),
			stderr: r.sanitize(summarize(stderr.String())),
			err:    err,
		}
	}
	return stdout.Bytes(), nil
}

// configEnv turns config pairs into GIT_CONFIG_COUNT/KEY/VALUE variables:
// unlike -c, these never show in the process list.
func configEnv(pairs [][2]string) []string {
	env := []string{fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(pairs))}
	for i, kv := range pairs {
		env = append(env,
			fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]),
			fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

// gitError is a failed git command: the subcommand, the lines of its stderr
// that say what went wrong (sanitised), and the exit or context error.
type gitError struct {
	cmd    string
	stderr string
	err    error
}

// Error implements error.
func (e *gitError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("git %s: %v", e.cmd, e.err)
	}
	return fmt.Sprintf("git %s: %s", e.cmd, e.stderr)
}

// Unwrap returns the exit or context error.
func (e *gitError) Unwrap() error { return e.err }

// exitCode returns the exit code of a failed git command, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// stderrOf returns the sanitised stderr of a failed git command, or "".
func stderrOf(err error) string {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.stderr
	}
	return ""
}

func subcommand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return "?"
}

// summarize keeps the lines of git's stderr that carry the failure (fatal:,
// error:, remote: and rejected refs) and drops hints, joined on one line.
func summarize(stderr string) string {
	var keep, all []string
	for line := range strings.Lines(stderr) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		all = append(all, line)
		if strings.HasPrefix(line, "fatal:") || strings.HasPrefix(line, "error:") ||
			strings.HasPrefix(line, "remote:") || strings.HasPrefix(line, "! ") {
			keep = append(keep, line)
		}
	}
	if len(keep) == 0 && len(all) > 0 {
		keep = all[len(all)-1:]
	}
	return strings.Join(keep, "; ")
}

// tailBuffer keeps the last max bytes written to it, so a chatty command
// cannot grow memory without bound.
type tailBuffer struct {
	max int
	buf []byte
}

// Write implements io.Writer.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string { return string(b.buf) }
