//go:build !unix

package gitrepo

import "os/exec"

// killProcessGroup leaves the default behaviour (kill git itself) where
// process groups do not exist.
func killProcessGroup(*exec.Cmd) {}
