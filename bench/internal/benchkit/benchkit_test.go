package benchkit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPollSaysWhatItWaitedFor(t *testing.T) {
	ctx := context.Background()
	if err := Poll(ctx, time.Second, time.Millisecond, func() (bool, error) { return true, nil }, "x"); err != nil {
		t.Errorf("a condition true at once: %v", err)
	}
	boom := errors.New("boom")
	if err := Poll(ctx, time.Second, time.Millisecond, func() (bool, error) { return false, boom }, "x"); !errors.Is(err, boom) {
		t.Errorf("a failing condition: %v, want boom", err)
	}
	if err := Poll(ctx, 20*time.Millisecond, time.Millisecond, func() (bool, error) { return false, nil }, "the sky falling"); err == nil || err.Error() != "the sky falling within 20ms" {
		t.Errorf("a condition never true: %v", err)
	}
}

func TestGitCommitsWithItsOwnIdentity(t *testing.T) {
	dir := t.TempDir()
	if _, err := Git(dir, "init", "-q", "-b", "main"); err != nil {
		t.Fatal(err)
	}
	if err := Commit(dir, "empty"); err == nil {
		t.Error("committing nothing succeeded")
	}
	if _, err := Git(dir, "commit", "-q", "--allow-empty", "-m", "first"); err != nil {
		t.Fatal(err)
	}
	author, err := Git(dir, "log", "-1", "--format=%an <%ae>")
	if err != nil || author != "bench <bench@ferry.dev>" {
		t.Errorf("author = %q, %v", author, err)
	}
}
