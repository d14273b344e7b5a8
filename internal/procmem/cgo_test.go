//go:build cgo

package procmem

// The test binary links the C runtime, as the ferry binary does, so its
// threads are made through the dynamic loader's relocated GOT, which
// ReleaseExecutablePages must leave alone.
import _ "runtime/cgo"
