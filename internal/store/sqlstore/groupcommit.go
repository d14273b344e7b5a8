package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit, for engines with one writer connection (SQLite).
//
// With one writer, write transactions queue anyway; what each still pays on
// its own is the commit (a WAL append and a round of file locks). The
// committer takes every transaction queued behind the one running and runs
// them together in one database transaction, each inside a savepoint of its
// own, so a burst of small writes from many agents pays for one commit,
// while each caller still sees only its own work succeed or fail.

// maxGroup bounds how many callers share one commit, so a steady stream of
// writers cannot delay a commit indefinitely.
const maxGroup = 64

// groupCommitter runs write transactions in groups on one connection pool.
type groupCommitter struct {
	db   *sql.DB
	reqs chan *txRequest
	// after runs after each group's transaction has ended (to prepare
	// statements that could not be prepared inside it).
	after func()

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

type txRequest struct {
	ctx  context.Context
	f    func(*sql.Tx) error
	done chan error
}

func newGroupCommitter(db *sql.DB, after func()) *groupCommitter {
	g := &groupCommitter{db: db, reqs: make(chan *txRequest), after: after, stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// run queues f and waits for the group it joined to commit. It returns f's
// error, or the commit's.
func (g *groupCommitter) run(ctx context.Context, f func(*sql.Tx) error) error {
	r := &txRequest{ctx: ctx, f: f, done: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return errClosed
	}
	return <-r.done
}

// close stops the committer after the group running now.
func (g *groupCommitter) close() {
	g.stopOnce.Do(func() { close(g.stop) })
	<-g.done
}

var errClosed = errors.New("datastore is closed")

func (g *groupCommitter) loop() {
	defer close(g.done)
	for {
		var first *txRequest
		select {
		case first = <-g.reqs:
		case <-g.stop:
			return
		}
		group := []*txRequest{first}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-g.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		g.commit(group)
	}
}

// commit runs a group in one transaction and answers every caller.
func (g *groupCommitter) commit(group []*txRequest) {
	errs := make([]error, len(group))
	defer func() {
		g.after()
		for i, r := range group {
			r.done <- errs[i]
		}
	}()
	tx, err := g.db.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("begin: %w", err)
		}
		return
	}
	ok := 0
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if errs[i] = g.runOne(tx, r); errs[i] == nil {
			ok++
		}
	}
	if ok == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
}

// runOne runs one caller's function inside a savepoint, undoing only its
// own writes when it fails. A panic in f is returned as an error so it
// cannot take the other callers down.
func (g *groupCommitter) runOne(tx *sql.Tx, r *txRequest) (err error) {
	if _, err := tx.ExecContext(r.ctx, "SAVEPOINT op"); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write transaction panicked: %v", p)
		}
		if err != nil {
			if _, rbErr := tx.ExecContext(context.Background(), "ROLLBACK TO op"); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("undo the failed write: %w", rbErr))
			}
		}
		if _, relErr := tx.ExecContext(context.Background(), "RELEASE op"); relErr != nil && err == nil {
			err = relErr
		}
	}()
	return r.f(tx)
}
