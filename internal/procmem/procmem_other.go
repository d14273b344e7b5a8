//go:build !linux

package procmem

// ReleaseExecutablePages does nothing outside Linux.
func ReleaseExecutablePages(evict bool) (Released, error) { return Released{}, nil }
