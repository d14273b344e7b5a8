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
		if st := s.wStmts.get(ctx, s.w, query); st != nil {
			return q.StmtContext(ctx, st)
		}
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
