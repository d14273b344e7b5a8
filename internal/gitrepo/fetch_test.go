package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/model"
)

func TestConcurrentFetchesCoalesceIntoTheNextFetch(t *testing.T) {
	const waiters = 6
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")
	m, _ := openMirror(t, r.url, nil)

	// The first fetch finishes its git fetch, then holds its callers until
	// released; callers arriving meanwhile must not be answered by it.
	var fetches atomic.Int32
	firstDone, release := make(chan struct{}), make(chan struct{})
	joined := make(chan struct{}, waiters)
	m.fetcher.fetched = func() {
		if fetches.Add(1) == 1 {
			close(firstDone)
			<-release
		}
	}
	m.fetcher.joined = func() { joined <- struct{}{} }

	ctx := context.Background()
	first := make(chan error, 1)
	go func() { first <- m.Fetch(ctx) }()
	<-firstDone

	second := r.commit("main", map[string]string{"a": "2"}, "second")
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Go(func() {
			if err := m.Fetch(ctx); err != nil {
				errs <- err
				return
			}
			c, err := m.Head(ctx, "main")
			if err == nil && c.Hash != second {
				err = errors.New("a caller that arrived during a fetch returned before seeing the commit made then")
			}
			errs <- err
		})
	}
	for range waiters {
		<-joined
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := fetches.Load(); got != 2 {
		t.Errorf("%d fetches ran for %d callers, want 2", got, waiters+1)
	}
}

func TestFetchGivesUpWithItsContext(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")
	m, _ := openMirror(t, r.url, nil)
	release := make(chan struct{})
	m.fetcher.fetched = func() { <-release }
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestFetchAfterCloseFails(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Fetch after Close: err = %v, want ErrClosed", err)
	}
	if _, err := m.Head(context.Background(), "main"); err != nil {
		t.Fatalf("Head after Close: %v", err)
	}
}

func TestAnUnreachableRemoteKeepsTheMirror(t *testing.T) {
	r := newRemote(t)
	head := r.commit("main", map[string]string{"a": "1"}, "first")
	m, logs := openMirror(t, r.url, nil)
	mustFetch(t, m)
	if err := os.RemoveAll(r.dir); err != nil {
		t.Fatal(err)
	}
	wantKind(t, m.Fetch(context.Background()), model.KindUnavailable)
	if strings.Contains(logs.String(), "re-cloning") {
		t.Error("a remote failure re-cloned a healthy mirror")
	}
	if c, err := m.Head(context.Background(), "main"); err != nil || c.Hash != head {
		t.Fatalf("Head = %v, %v; want the last fetched %s", c.Hash, err, head)
	}
}

func TestATimedOutFetchIsUnavailable(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")

	// A remote that never answers: an ssh that hangs.
	bin := t.TempDir()
	if err := os.WriteFile(bin+"/ssh", []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	m, _ := openMirror(t, "ssh://git.example.com"+r.dir, nil)
	m.git.timeout = time.Second // after Open, whose local commands may be slow on a busy machine

	err := m.Fetch(context.Background())
	wantKind(t, err, model.KindUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestAURLRewriteFetchesFromTheMirror(t *testing.T) {
	r := newRemote(t)
	want := r.commit("main", map[string]string{"app.yaml": "image: v1\n"}, "first")
	// The remote as written is on a host this machine cannot reach; only
	// the rewrite leads to the repository.
	rules := []URLRewrite{
		{From: "https://github.com/", To: "file:///nonexistent/"},
		{From: "https://github.com/ferry/", To: "file://" + filepath.Dir(r.dir) + "/"},
	}
	m, _ := openMirror(t, "https://github.com/ferry/"+filepath.Base(r.dir), func(c *Config) { c.URLRewrites = rules })
	if got, wantRemote := m.Remote(), "file://"+r.dir; got != wantRemote {
		t.Errorf("Remote() = %s, want the rewritten %s", got, wantRemote)
	}
	mustFetch(t, m)
	if got, err := m.HeadHash(context.Background(), "main"); err != nil || got != want {
		t.Errorf("main = %s, %v; want %s", got, err, want)
	}
}
