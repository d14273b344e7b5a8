package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// Times are stored as Unix microseconds, UTC; the zero time as 0.

func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// now returns the current time at the precision the store keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// trunc brings a caller's time to the store's precision, so what is read
// back equals what was written.
func trunc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlstore: encode %T: %v", v, err)) // only plain data types are stored
	}
	return string(b)
}

// jsonCol decodes a JSON text column into a pointer.
type jsonCol struct{ dst any }

// Scan implements sql.Scanner.
func (j jsonCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		return nil
	default:
		return fmt.Errorf("json column: unexpected %T", src)
	}
	return json.Unmarshal(b, j.dst)
}

// boolCol scans a 0/1 integer column.
type boolCol struct{ dst *bool }

// Scan implements sql.Scanner.
func (b boolCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*b.dst = v != 0
	case int32:
		*b.dst = v != 0
	case bool:
		*b.dst = v
	default:
		return fmt.Errorf("bool column: unexpected %T", src)
	}
	return nil
}

// timeCol scans a microseconds column.
type timeCol struct{ dst *time.Time }

// Scan implements sql.Scanner.
func (t timeCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*t.dst = fromMicros(v)
	case int32:
		*t.dst = fromMicros(int64(v))
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// emptyMapNil normalises an empty map to nil so round trips compare equal.
func emptyMapNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
