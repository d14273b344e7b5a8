// Package sqlstore is the one implementation of store.Store over
// database/sql, shared by the SQLite and PostgreSQL backends. The schema and
// queries are written once in the SQL both engines read; what differs (the
// placeholder style, error codes, how writes are serialised) is a Dialect.
// See docs/design/0001-datastore.md.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is what differs between database engines.
type Dialect struct {
	// Name is the goose dialect name.
	Name goose.Dialect
	// Numbered placeholders ($1, $2) instead of "?".
	Numbered bool
	// Classify maps a driver error to a model error kind, or KindInternal.
	Classify func(error) model.ErrorKind
	// GroupCommit runs concurrent write transactions together, each in a
	// savepoint, for engines with a single writer connection.
	GroupCommit bool
}

// Store implements store.Store.
type Store struct {
	w, r   *sql.DB
	d      Dialect
	wStmts stmtCache
	rStmts stmtCache
	group  *groupCommitter
}

var _ store.Store = (*Store)(nil)

// New returns a Store that writes through w and reads through r (they may
// be the same pool). It runs the migrations first, and refuses a database
// whose schema is newer than this binary knows.
func New(ctx context.Context, w, r *sql.DB, d Dialect) (*Store, error) {
	s := &Store{w: w, r: r, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.fillIdentityKeys(ctx); err != nil {
		return nil, err
	}
	if d.GroupCommit {
		s.group = newGroupCommitter(w, func() { s.wStmts.preparePending(context.Background(), w) })
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(s.d.Name, s.w, sub)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	known := int64(0)
	for _, src := range p.ListSources() {
		known = max(known, src.Version)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return s.wrap(fmt.Errorf("read schema version: %w", err))
	}
	if current > known {
		return model.Errorf(model.KindFailedPrecondition,
			"database schema is at version %d but this ferry knows up to %d: upgrade ferry, or point it at another database", current, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return s.wrap(fmt.Errorf("migrate schema: %w", err))
	}
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.wrap(s.r.PingContext(ctx)) }

// Close implements store.Store.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	s.wStmts.close()
	s.rStmts.close()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// q rewrites "?" placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// wrap classifies a driver error. Errors that are already model errors pass.
func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if k := s.d.Classify(err); k != model.KindInternal {
		return &model.Error{Kind: k, Message: "datastore: " + k.String(), Err: err}
	}
	return err
}

type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs f in a write transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	if s.group != nil {
		return s.wrap(s.group.run(ctx, f))
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(fmt.Errorf("begin: %w", err))
	}
	defer s.wStmts.preparePending(ctx, s.w)
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return s.wrap(err)
	}
	return s.wrap(tx.Commit())
}

// errStale tells update loops that another writer got there first.
var errStale = errors.New("stale revision")

// maxAttempts bounds optimistic retries before giving up with KindConflict.
const maxAttempts = 100

// retry runs one read-modify-write attempt until it does not hit a stale
// revision, with a short jittered pause between attempts.
func retry(ctx context.Context, what string, attempt func() error) error {
	for i := 0; i < maxAttempts; i++ {
		err := attempt()
		if !errors.Is(err, errStale) {
			return err
		}
		t := time.NewTimer(time.Duration(rand.IntN(200*(i+1))) * time.Microsecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return model.Errorf(model.KindConflict, "%s: too many concurrent writers, try again", what)
}

// checkUpdated turns an update that touched no row into errStale.
func checkUpdated(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errStale
	}
	return nil
}
