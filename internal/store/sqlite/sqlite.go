// Package sqlite opens Ferry's embedded datastore: a SQLite file in WAL mode
// through the pure-Go modernc.org/sqlite driver, so the binary needs no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/pressly/goose/v3"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store/sqlstore"
)

// readConns is the size of the read pool; WAL lets readers run beside the
// one writer.
const readConns = 4

// Open opens (creating if needed) the SQLite database at path and migrates
// it. Writes go through a single connection so they queue in Go instead of
// failing with SQLITE_BUSY; reads use a small pool of their own.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	w, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, &model.Error{Kind: model.KindUnavailable, Message: fmt.Sprintf("open SQLite database %s: %v", path, err), Err: err}
	}
	s, err := sqlstore.New(ctx, w, r, sqlstore.Dialect{Name: goose.DialectSQLite3, Classify: classify, GroupCommit: true})
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("SQLite database %s: %w", path, err)
	}
	return s, nil
}

func classify(err error) model.ErrorKind {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return model.KindInternal
	}
	switch se.Code() {
	case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
		return model.KindAlreadyExists
	}
	switch se.Code() & 0xff {
	case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED, sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL:
		return model.KindUnavailable
	}
	return model.KindInternal
}
