package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// Statements are prepared once per pool and reused: SQLite otherwise parses
// every query again, which was the largest cost on the agents' hot path.

// maxCachedStmts bounds the cache; list queries built from filters vary, and
// past the bound they run unprepared.
const maxCachedStmts = 512

type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// pending are queries a transaction ran unprepared because preparing
	// them on the pool could need the connection the transaction holds
	// (SQLite has one writer connection); they are prepared once it ends.
	pending map[string]struct{}
}

// lookup returns the cached statement for query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// deferPrepare records a query to prepare after the current transaction.
func (c *stmtCache) deferPrepare(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = map[string]struct{}{}
	}
	if len(c.pending) < maxCachedStmts {
		c.pending[query] = struct{}{}
	}
}

// preparePending prepares the queries transactions deferred.
func (c *stmtCache) preparePending(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for q := range pending {
		c.get(ctx, db, q)
	}
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared call reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		st.Close()
		return old
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	if len(c.m) >= maxCachedStmts {
		st.Close()
		return nil
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// prepared returns the cached statement for query on the pool q runs on,
// bound to q when q is a transaction; nil when it cannot be prepared.
func (s *Store) prepared(ctx context.Context, q queryer, query string) *sql.Stmt {
	switch q := q.(type) {
	case *sql.Tx:
		if st := s.wStmts.lookup(query); st != nil {
			return q.StmtContext(ctx, st)
		}
		s.wStmts.deferPrepare(query)
	case *sql.DB:
		cache := &s.rStmts
		if q == s.w {
			cache = &s.wStmts
		}
		return cache.get(ctx, q, query)
	}
	return nil
}

// exec runs a statement with "?" placeholders.
func (s *Store) exec(ctx context.Context, q queryer, query string, args ...any) (sql.Result, error) {
	query = s.q(query)
	if st := s.prepared(ctx, q, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.ExecContext(ctx, query, args...)
}

// query runs a query with "?" placeholders.
func (s *Store) query(ctx context.Context, q queryer, query string, args ...any) (*sql.Rows, error) {
	query = s.q(query)
	if st := s.prepared(ctx, q, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, query, args...)
}

// queryRow runs a one-row query with "?" placeholders.
func (s *Store) queryRow(ctx context.Context, q queryer, query string, args ...any) *sql.Row {
	query = s.q(query)
	if st := s.prepared(ctx, q, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, query, args...)
}
