package testenv

import "syscall"

// serverSysProcAttr puts the server in a process group of its own and has
// Linux kill it when the test binary dies without stopping it.
func serverSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
