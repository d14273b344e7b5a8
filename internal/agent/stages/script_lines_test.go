package stages

import (
	"context"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/platform"
)

// A script's line longer than maxLineBytes is cut with a note saying how
// much was dropped, and the lines after it are still logged: the line
// reader used to stop at the first line over 1 MiB and drop the rest of
// the output.
func TestAScriptsOverlongLineIsCutAndTheRestKept(t *testing.T) {
	log := &lines{}
	in := platform.StageInput{Deployment: &ferryv1.Deployment{Id: "d1"}, Log: log}
	script := "echo before; head -c 1100000 /dev/zero | tr '\\0' x; echo; echo after"
	if err := runScript(context.Background(), in, script, nil, time.Minute, false); err != nil {
		t.Fatalf("runScript: %v", err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	var long string
	for _, l := range log.all {
		if strings.HasPrefix(l, "xxx") {
			long = l
		}
	}
	want := strings.Repeat("x", maxLineBytes) + " … [line cut: 51424 more bytes]"
	if long != want {
		t.Errorf("the long line is %d bytes ending %q; want the first MiB and a note", len(long), long[max(0, len(long)-40):])
	}
	if got := strings.Join(log.all, "\n"); !strings.Contains(got, "before\n") || !strings.Contains(got, "\nafter\n") {
		t.Errorf("the lines around the long one are missing: %d lines", len(log.all))
	}
}
