package stages

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/platform"
)

// lines is a platform.Logger that keeps what it is told.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string)     { l.mu.Lock(); l.all = append(l.all, s); l.mu.Unlock() }
func (l *lines) Info(s string)    { l.add(s) }
func (l *lines) Success(s string) { l.add(s) }
func (l *lines) Error(s string)   { l.add(s) }

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// TestAProcessThatLeftTheScriptsGroupDoesNotHoldTheStage runs a script
// that starts a process in a session of its own (out of reach of the
// process-group kill) holding the script's output, then exits: the stage
// ends with the script, its output cut off after killGrace, instead of
// waiting for that process.
func TestAProcessThatLeftTheScriptsGroupDoesNotHoldTheStage(t *testing.T) {
	log := &lines{}
	in := platform.StageInput{Deployment: &ferryv1.Deployment{Id: "d1"}, Log: log}
	start := time.Now()
	err := runScript(context.Background(), in, "setsid sleep 30 & echo started", nil, time.Minute, false)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("runScript: %v\nlog:\n%s", err, log)
	}
	if took > killGrace+10*time.Second {
		t.Errorf("the stage took %s, want about killGrace (%s) after the script exited", took, killGrace)
	}
	for _, want := range []string{"started", "left a process holding its output", "The script succeeded"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
