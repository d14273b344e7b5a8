package localcluster

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts a child in a process group of its own. A detached child
// also gets its own session, so closing the terminal that ran `ferry dev
// cluster up` leaves it running; any other child is killed by the kernel
// when the process that started it dies, so a crashed test run leaves no
// cluster behind.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// startTicks returns the start time of pid (clock ticks since boot, field 22
// of /proc/<pid>/stat), and false when no such process runs or it is a
// zombie.
func startTicks(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false
	}
	return ticks, true
}
