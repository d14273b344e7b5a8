package procmem

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ferrycd/ferry/internal/testenv"
)

func TestReadOnlyMappings(t *testing.T) {
	const exe = "/usr/bin/ferry (deleted)"
	smaps := `00400000-00401000 r--p 00000000 fe:00 42 /usr/bin/ferry (deleted)
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
00401000-02000000 r-xp 00001000 fe:00 42 /usr/bin/ferry (deleted)
Rss:                8000 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
02000000-03000000 r--p 01c00000 fe:00 42 /usr/bin/ferry (deleted)
Anonymous:             0 kB
03000000-03001000 r--p 02c00000 fe:00 42 /usr/bin/ferry (deleted)
Anonymous:             4 kB
03001000-03100000 rw-p 02c01000 fe:00 42 /usr/bin/ferry (deleted)
Anonymous:           448 kB
03100000-03200000 r-xp 00000000 fe:00 43 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
`
	got := readOnlyMappings([]byte(smaps), exe)
	want := []mapping{{0x400000, 0x401000}, {0x401000, 0x2000000}, {0x2000000, 0x3000000}}
	if len(got) != len(want) {
		t.Fatalf("mappings = %x, want %x (the RELRO page with an anonymous page, the writable data and other files left alone)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d = %x, want %x", i, got[i], want[i])
		}
	}
}

// TestReleaseExecutablePages releases this test binary's pages, with and
// without evicting them, and checks the process still runs everything it
// ran before: Go code, the function tables (a stack trace), and the C
// library through the relocated GOT the release must not touch.
func TestReleaseExecutablePages(t *testing.T) {
	for _, evict := range []bool{false, true} {
		r, err := ReleaseExecutablePages(evict)
		if err != nil {
			t.Fatalf("evict=%v: %v", evict, err)
		}
		if r.Mappings == 0 {
			t.Fatalf("evict=%v: no mapping of the executable released", evict)
		}
		if r.ResidentBefore == 0 || r.ResidentAfter >= r.ResidentBefore {
			t.Errorf("evict=%v: resident file pages %d before, %d after: want fewer after", evict, r.ResidentBefore, r.ResidentAfter)
		}
		buf := make([]byte, 1<<16)
		if st := string(buf[:runtime.Stack(buf, true)]); !strings.Contains(st, "TestReleaseExecutablePages") {
			t.Errorf("evict=%v: stack trace after the release lacks this test:\n%s", evict, st)
		}
		// New threads: pthread_create through the GOT.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				_ = make([]byte, 1<<20)
			})
		}
		wg.Wait()
		u, err := user.Current()
		if err != nil || u.Uid != strconv.Itoa(os.Getuid()) {
			t.Errorf("evict=%v: user.Current after the release = %v, %v", evict, u, err)
		}
	}
}

// TestExternalLinking runs a program linked like the ferry binary (cgo,
// the external linker, the plugin package: a RELRO segment holds pointers
// the dynamic loader relocated) that releases its pages and then makes
// threads: dropping the RELRO pages crashes it at PC 0.
func TestExternalLinking(t *testing.T) {
	testenv.LookPath(t, "gcc", testenv.RequireGCCEnv) // the external linker
	bin := filepath.Join(t.TempDir(), "releaser")
	build := exec.Command("go", "build", "-ldflags=-linkmode=external", "-o", bin, "./testdata/releaser")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("releaser: %v\n%s", err, out)
	}
	if want := "evict=false mappings="; !strings.Contains(string(out), want) || !strings.Contains(string(out), "evict=true") {
		t.Fatalf("releaser printed %q", out)
	}
}
