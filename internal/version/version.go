// Package version tells which build of Ferry is running: the release set at
// link time, or what the Go toolchain recorded (module version, VCS
// revision) for a build from source.
package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// release is set at link time:
//
//	go build -ldflags "-X github.com/ferrycd/ferry/internal/version.release=v1.2.3" ./cmd/ferry
var release string

// Info describes the running build.
type Info struct {
	// Version is the release, the module version, or "devel".
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, when known.
	Commit string `json:"commit,omitempty"`
	// Modified reports uncommitted changes in the build's work tree.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

var get = sync.OnceValue(func() Info {
	info := Info{Version: release, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if info.Version == "" {
			info.Version = "devel"
		}
		return info
	}
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
})

// Get returns the running build's description.
func Get() Info { return get() }

// String returns the version with a short commit, such as "devel+1a2b3c4d".
func String() string {
	i := get()
	if i.Commit == "" {
		return i.Version
	}
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if i.Modified {
		c += "-dirty"
	}
	return i.Version + "+" + c
}
