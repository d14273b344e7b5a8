package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// finding is what checkSchema found at one key or value of a YAML
// document: a key its Go type has no field for, or a value of the wrong
// shape or type.
type finding struct {
	field        string
	line, column int
	// unknown is set for a key the type does not know; otherwise the value
	// at field cannot be decoded into its type.
	unknown bool
	message string
}

// checkSchema walks node alongside the Go type t, in document order, and
// returns every unknown key and every value that cannot be decoded, each
// with its full dotted path (spec.pipeline.stages[2].with.threshold) and
// its line. The YAML library's own strict mode reports one unknown key,
// picked by map iteration, without its path: a file with several would
// name a different one from run to run.
//
// Values of type ast.Node (a stage's `with`) are not entered: their type
// depends on a sibling and the caller checks them. Aliases are not
// entered either; the decoder checks what they point at.
func checkSchema(node ast.Node, t reflect.Type, path string) []finding {
	var s schemaWalk
	s.walk(node, t, path)
	return s.found
}

type schemaWalk struct{ found []finding }

var (
	astNodeType     = reflect.TypeOf((*ast.Node)(nil)).Elem()
	unmarshalerType = []reflect.Type{
		reflect.TypeOf((*yaml.BytesUnmarshaler)(nil)).Elem(),
		reflect.TypeOf((*yaml.BytesUnmarshalerContext)(nil)).Elem(),
		reflect.TypeOf((*yaml.InterfaceUnmarshaler)(nil)).Elem(),
		reflect.TypeOf((*yaml.InterfaceUnmarshalerContext)(nil)).Elem(),
		reflect.TypeOf((*yaml.NodeUnmarshaler)(nil)).Elem(),
		reflect.TypeOf((*yaml.NodeUnmarshalerContext)(nil)).Elem(),
		reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem(),
	}
)

// decodesItself reports whether values of t decode themselves.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, u := range unmarshalerType {
		if t.Implements(u) || pt.Implements(u) {
			return true
		}
	}
	return false
}

func (s *schemaWalk) walk(n ast.Node, t reflect.Type, path string) {
	n = unwrap(n)
	if n == nil || n.Type() == ast.NullType || n.Type() == ast.AliasType {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == astNodeType, t.Kind() == reflect.Interface:
		return
	case decodesItself(t):
		s.leaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := s.mapping(n, path)
		if !ok {
			return
		}
		fields := yamlFields(t)
		for _, kv := range m {
			key, name := kv.Key, keyName(kv.Key)
			if key.Type() == ast.MergeKeyType {
				continue
			}
			ft, known := fields[name]
			if !known {
				s.add(key, joinPath(path, name), true, "unknown field")
				continue
			}
			s.walk(kv.Value, ft, joinPath(path, name))
		}
	case reflect.Map:
		m, ok := s.mapping(n, path)
		if !ok {
			return
		}
		for _, kv := range m {
			if kv.Key.Type() != ast.MergeKeyType {
				s.walk(kv.Value, t.Elem(), joinPath(path, keyName(kv.Key)))
			}
		}
	case reflect.Slice, reflect.Array:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			s.add(n, path, false, "want a list, not "+describe(n))
			return
		}
		for i, v := range seq.Values {
			s.walk(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		s.leaf(n, t, path)
	}
}

// mapping returns n's key-value pairs, or records that a mapping was
// wanted.
func (s *schemaWalk) mapping(n ast.Node, path string) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	s.add(n, path, false, "want a mapping of fields, not "+describe(n))
	return nil, false
}

// leaf decodes a scalar (or a self-decoding value) on its own, so a bad
// value is reported at its own line, in document order.
func (s *schemaWalk) leaf(n ast.Node, t reflect.Type, path string) {
	err := yaml.NodeToValue(n, reflect.New(t).Interface())
	if err == nil {
		return
	}
	var located *Error
	if errors.As(err, &located) {
		// A type that decodes itself names its own fields below path.
		f := finding{field: path, line: located.Line, column: located.Column, message: located.Message}
		if located.Field != "" {
			f.field = joinPath(path, located.Field)
		}
		if f.line == 0 {
			f.line, f.column = position(n)
		}
		s.found = append(s.found, f)
		return
	}
	var ye yaml.Error
	if decodesItself(t) && errors.As(err, &ye) {
		// The type's own decoder, which may have walked a mapping of its
		// own: its message and place are the precise ones.
		f := finding{field: path, message: cleanMessage(ye.GetMessage())}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			f.line, f.column = tk.Position.Line, tk.Position.Column
		} else {
			f.line, f.column = position(n)
		}
		s.found = append(s.found, f)
		return
	}
	s.add(n, path, false, fmt.Sprintf("want %s, not %s", want(t), describe(n)))
}

// decodeNode strictly decodes node into out, for a type that decodes
// itself: the first unknown field or bad value by place in the file is an
// *Error whose Field is its path below node, prefixed with path.
func decodeNode(node ast.Node, out any, path string) error {
	for _, f := range checkSchema(node, reflect.TypeOf(out).Elem(), path) {
		return f.err("")
	}
	return yaml.NodeToValue(node, out)
}

func (s *schemaWalk) add(n ast.Node, path string, unknown bool, msg string) {
	line, col := position(n)
	s.found = append(s.found, finding{field: path, line: line, column: col, unknown: unknown, message: msg})
}

// yamlFields maps the YAML names of t's fields, those of inline embedded
// structs included, to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.DocumentNode:
			n = v.Body
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

func keyName(k ast.MapKeyNode) string {
	if sc, ok := k.(ast.ScalarNode); ok {
		return fmt.Sprint(sc.GetValue())
	}
	return k.String()
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func position(n ast.Node) (line, col int) {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line, tk.Position.Column
	}
	return 0, 0
}

// describe names what a node holds, for "want X, not Y".
func describe(n ast.Node) string {
	switch n.Type() {
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	}
	if sc, ok := n.(ast.ScalarNode); ok {
		return fmt.Sprintf("%q", fmt.Sprint(sc.GetValue()))
	}
	return strings.ToLower(n.Type().String())
}

// want names what a value of type t is written as.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a single value (text)"
	}
	return "a " + t.String()
}
