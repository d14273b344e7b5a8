// Package config reads Ferry's YAML files: the control plane's, the agent's
// and the applications'. Decoding is strict: an unknown field, a value of the
// wrong type or a missing required value is an *Error naming the file, the
// line and the field, so a typo never silently turns into a default. The
// one exception is an application config in PipeCD's format
// (pipecd.dev/v1beta1), read as leniently as PipeCD reads it: there an
// unknown field is a Warning on the application instead (see ParseApp).
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Error is a problem in a config file, located as precisely as known.
type Error struct {
	File string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Field is the dotted path of the field at fault, when known.
	Field   string
	Message string
}

// Error implements error as "file:line:col: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ReadFile reads and strictly decodes the YAML file at path into out.
func ReadFile(path string, out any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{File: path, Message: err.Error()}
	}
	return Decode(path, data, out)
}

// Decode strictly decodes YAML data, read from file, into out: a key out's
// type has no field for is an error, the first in the file.
func Decode(file string, data []byte, out any) error {
	_, err := decode(file, data, out, true)
	return err
}

// decode decodes YAML data into out. Problems are reported by their place
// in the file, the first first, each with its full dotted path, so the
// same file always gives the same error. When strict, an unknown key is an
// error; otherwise the unknown keys are returned, in file order, for the
// caller to report as it sees fit.
func decode(file string, data []byte, out any, strict bool) ([]finding, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: file, Message: "the file is empty"}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	var unknown []finding
	if len(f.Docs) > 0 {
		for _, fd := range checkSchema(f.Docs[0], reflect.TypeOf(out).Elem(), "") {
			if !fd.unknown || strict {
				return nil, fd.err(file)
			}
			unknown = append(unknown, fd)
		}
	}
	if err := yaml.UnmarshalWithOptions(data, out); err != nil {
		return nil, yamlError(file, err)
	}
	return unknown, nil
}

// err returns the finding as an *Error in file.
func (f finding) err(file string) *Error {
	msg := f.message
	if f.unknown {
		msg = fmt.Sprintf("unknown field %q", lastKey(f.field))
	}
	return &Error{File: file, Line: f.line, Column: f.column, Field: f.field, Message: msg}
}

// lastKey returns the last key of a dotted path.
func lastKey(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}

// yamlError turns an error of the YAML library into an *Error in file.
func yamlError(file string, err error) error {
	var located *Error
	if errors.As(err, &located) {
		located.File = file
		return located
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: file, Message: cleanMessage(ye.GetMessage())}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return &Error{File: file, Message: err.Error()}
}

// cleanMessage turns the YAML library's Go-flavoured messages into ones a
// person editing the file understands.
func cleanMessage(m string) string {
	r := strings.NewReplacer(
		"cannot unmarshal", "cannot use",
		"Go struct field", "field",
		"Go value of type", "a value of type",
	)
	return r.Replace(m)
}

// Locate returns where the value at a dotted path ("spec.datastore") sits in
// data, so checks made after decoding still point at a line. It returns 0, 0
// when the path is not in the file.
func Locate(data []byte, field string) (line, col int) {
	p, err := yaml.PathString("$." + field)
	if err != nil {
		return 0, 0
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0, 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0, 0
	}
	return n.GetToken().Position.Line, n.GetToken().Position.Column
}

// LocateKey returns where the key of the field at a dotted path
// ("spec.encryption", "spec.deployTargets.names[1]") is written in data:
// the key's line, not its value's, which for a block mapping is the line
// after. For a list element it is the element's place. It returns 0, 0
// when the path is not in the file.
func LocateKey(data []byte, field string) (line, col int) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil || len(f.Docs) == 0 {
		return 0, 0
	}
	var at ast.Node
	n := f.Docs[0].Body
	for _, part := range strings.Split(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		kv := findKey(unwrap(n), name)
		if kv == nil {
			return 0, 0
		}
		at, n = kv.Key, kv.Value
		for rest != "" {
			var i int
			if _, err := fmt.Sscanf(rest, "%d]", &i); err != nil {
				return 0, 0
			}
			seq, ok := unwrap(n).(*ast.SequenceNode)
			if !ok || i < 0 || i >= len(seq.Values) {
				return 0, 0
			}
			at, n = seq.Values[i], seq.Values[i]
			_, rest, _ = strings.Cut(rest, "[")
		}
	}
	return position(at)
}

// findKey returns the pair of mapping n whose key is name.
func findKey(n ast.Node, name string) *ast.MappingValueNode {
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	}
	for _, kv := range pairs {
		if keyName(kv.Key) == name {
			return kv
		}
	}
	return nil
}

// FieldError returns an *Error for field, located in data; when the field
// itself is absent it points at the nearest parent that is present.
func FieldError(file string, data []byte, field, format string, args ...any) *Error {
	e := &Error{File: file, Field: field, Message: fmt.Sprintf(format, args...)}
	for f := field; f != ""; {
		if e.Line, e.Column = Locate(data, f); e.Line > 0 {
			break
		}
		i := strings.LastIndex(f, ".")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return e
}

// unmarshalScalar decodes a scalar node with parse, so value types with a
// text form (durations, replica counts, percentages) report a bad value, or
// a list or map where a scalar belongs, at its line and column.
func unmarshalScalar(node ast.Node, what string, parse func([]byte) error) error {
	at := func(msg string) error {
		e := &Error{Message: msg}
		if tk := node.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	sc, ok := node.(ast.ScalarNode)
	if !ok {
		return at(fmt.Sprintf("want %s, not a %s", what, strings.ToLower(node.Type().String())))
	}
	if err := parse([]byte(fmt.Sprint(sc.GetValue()))); err != nil {
		return at(err.Error())
	}
	return nil
}

// Duration is a time.Duration written as "90s", "5m" or "6h" in YAML.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write it like 30s, 5m or 6h", string(b))
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML decodes a duration, reporting errors at their line.
func (d *Duration) UnmarshalYAML(_ context.Context, node ast.Node) error {
	return unmarshalScalar(node, "a duration such as 30s", d.UnmarshalText)
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
