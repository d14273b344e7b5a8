package sqlstore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// where builds a conjunction of conditions with "?" placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col+" = ?", v)
	}
}

// likeEscaper makes LIKE's wildcards and escape character match themselves.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// contains keeps rows whose col contains v, ignoring case the same way on
// every backend (LOWER on both sides; SQLite's LIKE alone ignores ASCII
// case, PostgreSQL's does not).
func (w *where) contains(col, v string) {
	if v != "" {
		w.add("LOWER("+col+") LIKE ? ESCAPE '\\'", "%"+likeEscaper.Replace(strings.ToLower(v))+"%")
	}
}

func (w *where) in(col string, vs []string) {
	if len(vs) == 0 {
		return
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(vs)), ",")
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	w.add(col+" IN ("+ph+")", args...)
}

func (w *where) boolean(col string, v *bool) {
	if v != nil {
		w.add(col+" = ?", boolInt(*v))
	}
}

// labels requires every label, through the given label table.
func (w *where) labels(table, fk, owner string, labels map[string]string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.add("EXISTS (SELECT 1 FROM "+table+" l WHERE l."+fk+" = "+owner+".id AND l.key = ? AND l.value = ?)", k, labels[k])
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// cursor is where a page ended, bound to the query that produced it.
type cursor struct {
	Key   string `json:"k,omitempty"`
	Time  int64  `json:"t,omitempty"`
	ID    string `json:"i"`
	Query string `json:"q"`
}

// queryHash identifies a query's filter, so a cursor is only valid for it.
func queryHash(kind string, filter any) string {
	sum := sha256.Sum256([]byte(kind + toJSON(filter)))
	return hex.EncodeToString(sum[:8])
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(toJSON(c)))
}

func decodeCursor(token, hash string) (*cursor, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, model.Invalid("malformed page cursor: pass the next page token of the previous page unchanged")
	}
	if c.Query != hash {
		return nil, model.Invalid("page cursor belongs to another query: pass the same filters as for the first page")
	}
	return &c, nil
}

// limit returns the page size to fetch and show.
func limit(p store.Page) int {
	switch {
	case p.Limit <= 0:
		return store.DefaultLimit
	case p.Limit > store.MaxLimit:
		return store.MaxLimit
	default:
		return p.Limit
	}
}
