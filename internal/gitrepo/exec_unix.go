//go:build unix

package gitrepo

import (
	"os/exec"
	"syscall"
)

// killProcessGroup starts git in its own process group and, when the
// context ends, kills the whole group: git leaves the network work to
// children (ssh, git-remote-https, index-pack) that would otherwise outlive
// a timeout and keep the mirror's locks.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
