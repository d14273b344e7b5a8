package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// errPortTaken marks a start that failed because the port was in use.
var errPortTaken = errors.New("port already in use")

// server is a server binary run for the tests (MinIO, Prometheus): its own
// process group, tied to the test binary's life where Linux allows, its
// output in a log in its temp folder, which stop removes.
type server struct {
	name   string        // for messages: "minio", "prometheus"
	root   string        // temp folder: data, config, log
	log    string        // the log file, in root
	cmd    *exec.Cmd     // set by start
	exited chan struct{} // closed when cmd.Wait returns
}

// start starts cmd with its output in the log.
func (s *server) start(cmd *exec.Cmd) error {
	logFile, err := os.Create(s.log)
	if err != nil {
		return fmt.Errorf("%s log: %w", s.name, err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverSysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is in the log; stop reports the rest
		close(s.exited)
	}()
	return nil
}

// waitReady polls url until it answers 200, the process exits or ctx ends.
func (s *server) waitReady(ctx context.Context, url string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%s readiness request: %w", s.name, err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			tail := s.logTail()
			if strings.Contains(tail, "address already in use") {
				return fmt.Errorf("%s on %s: %w", s.name, url, errPortTaken)
			}
			return fmt.Errorf("%s exited before it was ready (%s): %s", s.name, s.cmd.ProcessState, tail)
		case <-ctx.Done():
			return fmt.Errorf("%s on %s not ready: %w; log: %s", s.name, url, ctx.Err(), s.logTail())
		case <-tick.C:
		}
	}
}

// stop ends the server, gracefully if it lets itself, and removes its
// folder.
func (s *server) stop() error {
	var err error
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			if sigErr := s.cmd.Process.Signal(syscall.SIGTERM); sigErr != nil {
				err = s.cmd.Process.Kill()
			}
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				if killErr := s.cmd.Process.Kill(); killErr != nil {
					err = fmt.Errorf("kill %s: %w", s.name, killErr)
				}
				<-s.exited
			}
		}
	}
	if rmErr := os.RemoveAll(s.root); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s folder: %w", s.name, rmErr))
	}
	return err
}

// logTail returns the last lines of the server's log, for error messages.
func (s *server) logTail() string {
	data, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	data = bytes.TrimSpace(data)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	if len(data) == 0 {
		return "(empty log)"
	}
	return string(data)
}
