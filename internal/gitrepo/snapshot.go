package gitrepo

import (
	"context"
	"sync"
	"time"
)

// SnapshotLinger is how long a Snapshot nobody holds is kept for the next
// caller of the same commit (the deployments of a push come one after the
// other).
const SnapshotLinger = 30 * time.Second

// Snapshot is a read-only export of one commit (see Export), shared by
// every holder of the same commit: a push that deploys a thousand
// applications of one repository writes the repository's files once, not
// a thousand times. Holders must not write into Dir; one that needs to
// copies what it changes. Close releases the holder's claim.
type Snapshot struct {
	s         *sharedExport
	closeOnce sync.Once
}

// sharedExport is one commit's export and who holds it.
type sharedExport struct {
	m      *Mirror
	commit string
	ready  chan struct{}
	wt     *Worktree
	err    error
	// holders and linger are guarded by m.snapshotsMu.
	holders int
	linger  *time.Timer
}

// Snapshot returns the shared read-only export of commit (full or
// abbreviated), exporting it when no other holder has it. Errors as
// Export's. Safe for concurrent use.
func (m *Mirror) Snapshot(ctx context.Context, commit string) (*Snapshot, error) {
	full, err := m.commitArg(ctx, commit)
	if err != nil {
		return nil, err
	}
	m.snapshotsMu.Lock()
	if m.snapshots == nil {
		m.snapshots = map[string]*sharedExport{}
	}
	s, ok := m.snapshots[full]
	if !ok {
		s = &sharedExport{m: m, commit: full, ready: make(chan struct{})}
		m.snapshots[full] = s
	}
	s.holders++
	if s.linger != nil {
		s.linger.Stop()
		s.linger = nil
	}
	m.snapshotsMu.Unlock()
	if !ok {
		// Not bound to this caller's ctx: other holders wait for it too.
		s.wt, s.err = m.Export(context.WithoutCancel(ctx), full)
		close(s.ready)
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		s.release()
		return nil, ctx.Err()
	}
	if s.err != nil {
		err := s.err
		s.release()
		return nil, err
	}
	return &Snapshot{s: s}, nil
}

// release drops one holder; the last one starts the linger, after which
// the export is removed (at once when it failed).
func (s *sharedExport) release() {
	m := s.m
	m.snapshotsMu.Lock()
	defer m.snapshotsMu.Unlock()
	s.holders--
	if s.holders > 0 {
		return
	}
	select {
	case <-s.ready:
	default:
		return // still exporting: its own caller releases after
	}
	if s.err != nil {
		delete(m.snapshots, s.commit)
		return
	}
	s.linger = time.AfterFunc(SnapshotLinger, func() {
		m.snapshotsMu.Lock()
		if s.holders > 0 || m.snapshots[s.commit] != s {
			m.snapshotsMu.Unlock()
			return
		}
		delete(m.snapshots, s.commit)
		m.snapshotsMu.Unlock()
		if err := s.wt.Close(); err != nil {
			m.log.Warn("remove snapshot", logKeyRepoID, m.id, logKeyCommit, s.commit, "error", err)
		}
	})
}

// Dir returns the directory holding the commit's files. Do not write in it.
func (s *Snapshot) Dir() string { return s.s.wt.Dir() }

// Commit returns the full hash of the snapshot's commit.
func (s *Snapshot) Commit() string { return s.s.commit }

// Close releases the snapshot; the files stay for other holders and for
// SnapshotLinger after the last. Idempotent; returns nil.
func (s *Snapshot) Close() error {
	s.closeOnce.Do(s.s.release)
	return nil
}
