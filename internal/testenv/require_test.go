package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that notes a skip or a failure and ends the
// goroutine, as the testing package does.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs need with a recorder in a goroutine of its own.
func call(need func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		need(r)
	}()
	<-done
	return r
}

// TestMissingPartsSkipUnlessRequired: each starter for a part that may be
// missing skips, naming its switch, and fails under the switch.
func TestMissingPartsSkipUnlessRequired(t *testing.T) {
	for _, tc := range []struct {
		require string
		unset   string
		need    func(testing.TB)
	}{
		{RequirePostgresEnv, PostgresEnv, func(t testing.TB) { PostgresURL(t) }},
		{RequireRedisEnv, RedisEnv, func(t testing.TB) { RedisURL(t) }},
		{RequireGCCEnv, "", func(t testing.TB) { LookPath(t, "no-such-program-for-ferry", RequireGCCEnv) }},
	} {
		t.Run(tc.require, func(t *testing.T) {
			if tc.unset != "" {
				t.Setenv(tc.unset, "")
			}
			t.Setenv(tc.require, "")
			r := call(tc.need)
			if r.failed != "" || !strings.Contains(r.skipped, tc.require+"=1 fails instead of skipping") {
				t.Errorf("without %s: skipped %q, failed %q; want a skip naming the switch", tc.require, r.skipped, r.failed)
			}
			t.Setenv(tc.require, "1")
			r = call(tc.need)
			if r.skipped != "" || !strings.Contains(r.failed, tc.require+"=1 forbids skipping") {
				t.Errorf("with %s=1: skipped %q, failed %q; want a failure", tc.require, r.skipped, r.failed)
			}
		})
	}
}

func TestGitRunsWithAFixedIdentity(t *testing.T) {
	dir := t.TempDir()
	Git(t, dir, "init", "-q", "-b", "main")
	Git(t, dir, "commit", "-q", "--allow-empty", "-m", "first")
	if got := Git(t, dir, "log", "-1", "--format=%an <%ae> %cn"); got != "Tess Ter <tess@example.com> Tess Ter" {
		t.Errorf("author = %q, want Tess Ter", got)
	}
	Git(t, dir, "-c", "user.name=alice", "commit", "-q", "--allow-empty", "-m", "second")
	if got := Git(t, dir, "log", "-1", "--format=%an"); got != "alice" {
		t.Errorf("author with -c user.name=alice = %q", got)
	}
	if _, err := RunGit(dir, "no-such-command"); err == nil || !strings.Contains(err.Error(), "git no-such-command") {
		t.Errorf("RunGit of a bad command = %v, want an error naming it", err)
	}
}
