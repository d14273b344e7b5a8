//go:build !linux

package testenv

import "syscall"

// serverSysProcAttr puts the server in a process group of its own. Only
// Linux can tie its life to the test binary's; elsewhere a test binary that
// dies without stopping it leaves the server running.
func serverSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
