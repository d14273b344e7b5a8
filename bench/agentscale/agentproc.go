package agentscale

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// agentProcess is one run of `ferry agent --config FILE`.
type agentProcess struct {
	cmd     *exec.Cmd
	started time.Time
	log     *os.File
	done    chan struct{}
	err     error // Wait's error, once done is closed
}

// startAgent starts the agent process, logging to agent-N.log in the work
// directory. It returns once the process was forked.
func (r *rig) startAgent() error {
	r.starts++
	log, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("agent-%d.log", r.starts)))
	if err != nil {
		return err
	}
	args := []string{"agent", "--config", r.agentConfig, "--cache-dir", filepath.Join(r.dir, "agent-cache")}
	if r.opts.Profile {
		if r.pprof == "" {
			addr, err := freeAddress()
			if err != nil {
				log.Close()
				return err
			}
			r.pprof = addr
		}
		args = append(args, "--admin-address", r.pprof)
	}
	cmd := exec.Command(r.ferry, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if len(r.opts.AgentEnv) > 0 {
		cmd.Env = append(os.Environ(), r.opts.AgentEnv...)
	}
	cmd.SysProcAttr = sysProcAttr()
	p := &agentProcess{cmd: cmd, log: log, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start the agent: %w", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	r.agent.Store(p)
	return nil
}

// currentPID is the running agent's pid, 0 when none runs. The RSS
// sampler calls it from its own goroutine.
func (r *rig) currentPID() int {
	p := r.agent.Load()
	if p == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
		return p.cmd.Process.Pid
	}
}

// alive returns an error when the agent process has exited.
func (r *rig) alive() error {
	p := r.agent.Load()
	if p == nil {
		return fmt.Errorf("no agent process runs")
	}
	select {
	case <-p.done:
		if p.err == nil {
			return fmt.Errorf("the agent process exited: see %s", p.log.Name())
		}
		return fmt.Errorf("the agent process exited (%w): see %s", p.err, p.log.Name())
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to grace, then kills the process.
func (p *agentProcess) stop(grace time.Duration) error {
	defer p.log.Close()
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var exit *exec.ExitError
		if p.err != nil && !errors.As(p.err, &exit) {
			return p.err
		}
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("the agent did not stop within %s of SIGTERM: killed", grace)
	}
}

// procStatus is what /proc/PID/status says of memory (in bytes) and
// threads. Of RSS, Anon is the heap and stacks; the rest is mostly the
// binary's pages read in (RssFile), which the kernel may drop under
// pressure.
type procStatus struct {
	RSS, HWM, Anon uint64
	Threads        int
}

// readStatus reads VmRSS, VmHWM, RssAnon and Threads of pid.
func readStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	return parseStatus(string(b)), nil
}

func parseStatus(s string) procStatus {
	var st procStatus
	for _, line := range strings.Split(s, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		switch key {
		case "VmRSS":
			st.RSS = n * 1024 // kB
		case "VmHWM":
			st.HWM = n * 1024
		case "RssAnon":
			st.Anon = n * 1024
		case "Threads":
			st.Threads = int(n)
		}
	}
	return st
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// readCPU returns the user plus system CPU time pid has used.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseCPU(string(b))
}

// parseCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) may hold spaces and parentheses, so
// fields are counted from its closing parenthesis.
func parseCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat line")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat line")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed /proc stat line: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
