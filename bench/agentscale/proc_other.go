//go:build !linux

package agentscale

import "syscall"

// sysProcAttr: elsewhere than Linux there is no parent-death signal, and
// /proc is missing too, so memory and CPU read as errors.
func sysProcAttr() *syscall.SysProcAttr { return nil }
