package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is one program of the cluster, running in a process group of its
// own so that stopping it also stops anything it forked. Its fields are
// recorded in the state file so that another process (`ferry dev cluster
// down`) can stop it later.
type Process struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// StartTicks is the start time of PID since boot, from /proc; it tells
	// our process from an unrelated one that got the same pid after a crash.
	StartTicks uint64 `json:"start_ticks"`
	Log        string `json:"log"`

	// exited is closed when a process this one started has been reaped,
	// with err its exit error. Both are nil for a process read from a state
	// file.
	exited chan struct{}
	err    error
}

// startProcess starts bin with args, its output appended to logPath and its
// working directory dir. A detached process gets a session of its own and
// outlives the caller; otherwise it is killed when the caller dies.
func startProcess(name, bin string, args, env []string, dir, logPath string, detach bool) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logFile.Close() // the child holds its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(detach)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, PID: cmd.Process.Pid, Log: logPath, exited: make(chan struct{})}
	p.StartTicks, _ = startTicks(p.PID)
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Alive reports whether the process still runs: for a process this one
// started, until it has been reaped; for one read from a state file, while
// its pid belongs to the same process (not a zombie, not a reused pid).
func (p *Process) Alive() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	ticks, ok := startTicks(p.PID)
	return ok && ticks == p.StartTicks
}

// exitError describes how a process this one started ended, with the tail
// of its log.
func (p *Process) exitError() error {
	how := "exited"
	if p.err != nil {
		how = p.err.Error()
	}
	return fmt.Errorf("%s stopped during start-up (%s); last lines of %s:\n%s", p.Name, how, p.Log, p.logTail(25))
}

// logTail returns the last n lines of the process's log.
func (p *Process) logTail(n int) string {
	f, err := os.Open(p.Log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return "(log unreadable: " + err.Error() + ")"
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// logContains reports whether the process's log contains s.
func (p *Process) logContains(s string) bool {
	b, err := os.ReadFile(p.Log)
	return err == nil && bytes.Contains(b, []byte(s))
}

// signal sends sig to the process's group, if the process is still ours.
func (p *Process) signal(sig syscall.Signal) error {
	if !p.Alive() {
		return nil
	}
	if err := syscall.Kill(-p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	return nil
}

// stopProcesses stops procs one by one, last started first, so each
// component shuts down while what it depends on still runs (an API server
// whose etcd is gone hangs in its shutdown hooks; a scheduler whose API
// server is gone waits to release its lease): SIGTERM to the process
// group, then SIGKILL if it still runs after grace. Stopping a healthy
// cluster takes about a second. When some process has died already the
// cluster is broken and nothing is worth waiting for, so all get SIGKILL at
// once.
func stopProcesses(procs []*Process, grace time.Duration) error {
	for _, p := range procs {
		if !p.Alive() {
			grace = 0
		}
	}
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		if grace > 0 {
			errs = append(errs, p.signal(syscall.SIGTERM))
			if waitGone(p, time.Now().Add(grace)) {
				continue
			}
		}
		errs = append(errs, p.signal(syscall.SIGKILL))
		if !waitGone(p, time.Now().Add(5*time.Second)) {
			errs = append(errs, fmt.Errorf("%s (pid %d) still runs after SIGKILL", p.Name, p.PID))
		}
	}
	return errors.Join(errs...)
}

// waitGone polls until p is gone or the deadline passes, and reports
// whether it went.
func waitGone(p *Process, deadline time.Time) bool {
	for {
		if !p.Alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// logsDir is where a cluster's process logs live.
func logsDir(dir string) string { return filepath.Join(dir, "logs") }
