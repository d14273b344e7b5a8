// Package procmem keeps a long-running Ferry process's resident memory to
// what it uses.
//
// A Go binary's code and read-only data are mapped from the executable. At
// start-up every package's init function runs once, scattered over the whole
// binary, and on each page fault Linux maps in up to 15 neighbouring pages
// that are in the page cache ("fault-around"). For the one `ferry` binary
// (control plane, CLI, agent, Helm, Kustomize) that leaves about 100 MiB of
// its file pages in the agent's resident set, most never touched again.
// ReleaseExecutablePages gives those pages back.
package procmem

// Released says what ReleaseExecutablePages did.
type Released struct {
	// Mappings is how many read-only mappings of the executable were
	// released.
	Mappings int
	// ResidentBefore and ResidentAfter are the process's resident file
	// pages (RssFile) around the release, in bytes; 0 where unknown.
	ResidentBefore, ResidentAfter int64
}
