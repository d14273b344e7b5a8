//go:build !linux

package localcluster

import "syscall"

// sysProcAttr puts a child in a process group of its own (and a session of
// its own when detached). Outside Linux there is no parent-death signal, so
// a crashed caller may leave processes behind; Start cleans up after such
// runs when it can read their state.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true}
}

// startTicks reports whether pid runs; without /proc there is no start time
// to compare, so pid reuse cannot be told apart.
func startTicks(pid int) (uint64, bool) {
	return 0, syscall.Kill(pid, 0) == nil
}
