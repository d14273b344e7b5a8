package agentscale

import "syscall"

// sysProcAttr has the kernel kill the agent when the bench dies, so an
// interrupted run leaves no agent behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
