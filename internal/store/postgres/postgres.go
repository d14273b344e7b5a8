// Package postgres opens Ferry's production datastore on PostgreSQL through
// pgx. Every replica of the control plane points at the same database.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store/sqlstore"
)

// Open connects to the database at dsn (postgres://…) and migrates it.
// Errors name the server without the password.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	where := Redact(dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, model.Invalid("datastore URL %s: %v", where, err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, &model.Error{Kind: model.KindUnavailable, Message: fmt.Sprintf("cannot reach PostgreSQL at %s: %v", where, cause(err)), Err: err}
	}
	s, err := sqlstore.New(ctx, db, db, sqlstore.Dialect{Name: goose.DialectPostgres, Numbered: true, Classify: classify})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL at %s: %w", where, err)
	}
	return s, nil
}

// Redact returns dsn with any password replaced, for messages and logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// cause returns the innermost message of a connection error, which names
// the host and the reason but never the password.
func cause(err error) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap().Error()
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

func classify(err error) model.ErrorKind {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return model.KindAlreadyExists
		case pe.Code == "40001", pe.Code == "40P01":
			return model.KindConflict
		case pe.Code[:2] == "08", pe.Code[:2] == "53", pe.Code[:2] == "57":
			return model.KindUnavailable
		}
		return model.KindInternal
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) {
		return model.KindUnavailable
	}
	return model.KindInternal
}
