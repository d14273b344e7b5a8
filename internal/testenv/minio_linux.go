package testenv

import "syscall"

// minioSysProcAttr puts the server in a process group of its own and has
// Linux kill it when the test binary dies without stopping it.
func minioSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
