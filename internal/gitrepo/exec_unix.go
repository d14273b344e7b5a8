//go:build unix

package gitrepo

import (
	"os/exec"
	"syscall"
)

// killProcessGroup starts git in its own process group and, when the
// context ends, terminates the whole group: git leaves the network work to
// children (ssh, git-remote-https, index-pack) that would otherwise outlive
// a timeout. SIGTERM rather than SIGKILL lets git remove its lock files on
// the way out; whatever still runs after cmd.WaitDelay is killed.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}
