//go:build !linux

package testenv

import "syscall"

// minioSysProcAttr puts the server in a process group of its own. Only
// Linux can tie its life to the test binary's; elsewhere a test binary that
// dies without RunWithMinIO's stop leaves the server running.
func minioSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
