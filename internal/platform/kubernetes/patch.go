package kubernetes

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
)

// Patch operations of K8S_CANARY_ROLLOUT's patches, PipeCD's names.
const (
	patchYAMLReplace = "yaml-replace"
	patchYAMLAdd     = "yaml-add"
	patchYAMLRemove  = "yaml-remove"
	patchJSONReplace = "json-replace"
	patchTextRegex   = "text-regex"
)

// applyPatches applies a canary's patches to objs in place, each to the
// first object of its target's kind and name (names as in Git, before the
// canary's suffix). PipeCD implements yaml-replace only; Ferry implements
// every operation its configuration names:
//
//   - yaml-replace sets the value at path, which must exist;
//   - yaml-add sets it, creating missing maps on the way, appending when
//     the last index equals the list's length;
//   - yaml-remove deletes the key or list item at path, which must exist;
//   - json-replace is yaml-replace on a JSON document, written back as
//     JSON (meant for a documentRoot holding a JSON file);
//   - text-regex replaces every match of the regular expression path by
//     value ($1 expands groups) in the document's text.
//
// Paths are PipeCD's: $.spec.template.spec.containers[0].image, with
// quoted keys for names with dots ($.data.'config.yaml'). Values are
// YAML 1.2, as PipeCD reads them: "2" is a number, "{a: b}" a map, "yes"
// a string. With target.documentRoot, the
// operations apply to the document held as a string at that path (a
// ConfigMap's file) instead of the whole manifest.
func applyPatches(objs []*unstructured.Unstructured, patches []config.K8sPatch) error {
	for i, p := range patches {
		var target *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == p.Target.Kind && o.GetName() == p.Target.Name {
				target = o
				break
			}
		}
		if target == nil {
			return fmt.Errorf("patches[%d]: no manifest is a %s named %s", i, p.Target.Kind, p.Target.Name)
		}
		if err := patchObject(target, p); err != nil {
			return fmt.Errorf("patches[%d] on %s %s: %w", i, p.Target.Kind, p.Target.Name, err)
		}
	}
	return nil
}

// patchObject applies one patch's operations to obj.
func patchObject(obj *unstructured.Unstructured, p config.K8sPatch) error {
	var doc any = obj.Object
	var text string
	root := p.Target.DocumentRoot
	if root != "" {
		segs, err := parsePath(root)
		if err != nil {
			return fmt.Errorf("documentRoot: %w", err)
		}
		v, err := getPath(doc, segs)
		if err != nil {
			return fmt.Errorf("documentRoot %s: %w", root, err)
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("documentRoot %s holds a %T, not a string", root, v)
		}
		text = s
		patched, err := patchDocument(text, p.Ops)
		if err != nil {
			return err
		}
		_, err = setPath(doc, segs, patched, false)
		return err
	}
	b, err := goyaml.Marshal(obj.Object)
	if err != nil {
		return err
	}
	patched, err := patchDocument(string(b), p.Ops)
	if err != nil {
		return err
	}
	var back any
	if err := goyaml.Unmarshal([]byte(patched), &back); err != nil {
		return fmt.Errorf("the patched manifest is not YAML: %w", err)
	}
	j, err := json.Marshal(back)
	if err != nil {
		return err
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(j); err != nil {
		return fmt.Errorf("the patched manifest is not an object: %w", err)
	}
	obj.Object = u.Object
	return nil
}

// patchDocument applies ops, in order, to a YAML or JSON document's text.
func patchDocument(text string, ops []config.K8sPatchOp) (string, error) {
	for i, op := range ops {
		var err error
		switch op.Op {
		case patchTextRegex:
			text, err = replaceRegex(text, op.Path, op.Value)
		case patchYAMLReplace, patchYAMLAdd, patchYAMLRemove, patchJSONReplace:
			text, err = patchStructured(text, op.Op, op.Path, op.Value)
		default:
			err = fmt.Errorf("unknown op %q: use yaml-replace, yaml-add, yaml-remove, json-replace or text-regex", op.Op)
		}
		if err != nil {
			return "", fmt.Errorf("ops[%d] %s %s: %w", i, op.Op, op.Path, err)
		}
	}
	return text, nil
}

// replaceRegex replaces every match of expr in text; no match is an error,
// as a patch that changes nothing is a mistake.
func replaceRegex(text, expr, value string) (string, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return "", err
	}
	if !re.MatchString(text) {
		return "", fmt.Errorf("the expression matches nothing")
	}
	return re.ReplaceAllString(text, value), nil
}

// patchStructured decodes text as YAML (JSON is YAML), applies one
// structured operation, and encodes the result back: as JSON for
// json-replace, else as YAML.
func patchStructured(text, op, path, value string) (string, error) {
	var doc any
	if err := goyaml.Unmarshal([]byte(text), &doc); err != nil {
		return "", fmt.Errorf("the document is not YAML: %w", err)
	}
	segs, err := parsePath(path)
	if err != nil {
		return "", err
	}
	if len(segs) == 0 {
		return "", fmt.Errorf("the path names the whole document; name a field")
	}
	var v any
	if op != patchYAMLRemove {
		if err := goyaml.Unmarshal([]byte(value), &v); err != nil {
			return "", fmt.Errorf("value is not YAML: %w", err)
		}
	}
	switch op {
	case patchYAMLRemove:
		doc, err = removePath(doc, segs)
	case patchYAMLAdd:
		doc, err = setPath(doc, segs, v, true)
	default:
		if _, err = getPath(doc, segs); err == nil {
			doc, err = setPath(doc, segs, v, false)
		}
	}
	if err != nil {
		return "", err
	}
	var out []byte
	if op == patchJSONReplace {
		out, err = json.MarshalIndent(doc, "", "  ")
	} else {
		out, err = goyaml.Marshal(doc)
	}
	return string(out), err
}

// pathSeg is one step of a path: a map key, or a list index.
type pathSeg struct {
	key     string
	index   int
	isIndex bool
}

// parsePath parses PipeCD's YAML paths: "$" then ".key", ".'quoted.key'"
// or `."quoted"`, and "[n]" steps.
func parsePath(p string) ([]pathSeg, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(p), "$")
	if !ok {
		return nil, fmt.Errorf("path %q must start with $", p)
	}
	var segs []pathSeg
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			if rest != "" && (rest[0] == '\'' || rest[0] == '"') {
				q := rest[0]
				end := strings.IndexByte(rest[1:], q)
				if end < 0 {
					return nil, fmt.Errorf("path %q: unterminated quote", p)
				}
				segs = append(segs, pathSeg{key: rest[1 : end+1]})
				rest = rest[end+2:]
				continue
			}
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("path %q: empty key", p)
			}
			segs = append(segs, pathSeg{key: rest[:end]})
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unterminated [", p)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: %q is not a list index", p, rest[1:end])
			}
			segs = append(segs, pathSeg{index: n, isIndex: true})
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("path %q: expected . or [ at %q", p, rest)
		}
	}
	return segs, nil
}

// getPath returns the value at segs.
func getPath(doc any, segs []pathSeg) (any, error) {
	cur := doc
	for i, s := range segs {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[s.key]
			if s.isIndex || !ok {
				return nil, fmt.Errorf("%s does not exist", describePath(segs[:i+1]))
			}
			cur = v
		case []any:
			if !s.isIndex || s.index >= len(c) {
				return nil, fmt.Errorf("%s does not exist", describePath(segs[:i+1]))
			}
			cur = c[s.index]
		default:
			return nil, fmt.Errorf("%s does not exist", describePath(segs[:i+1]))
		}
	}
	return cur, nil
}

// setPath sets the value at segs and returns the new document. With create,
// missing maps are made and an index equal to a list's length appends.
func setPath(doc any, segs []pathSeg, v any, create bool) (any, error) {
	if len(segs) == 0 {
		return v, nil
	}
	s := segs[0]
	switch c := doc.(type) {
	case map[string]any:
		if s.isIndex {
			break
		}
		child, ok := c[s.key]
		if !ok && !create && len(segs) > 1 {
			return nil, fmt.Errorf("%s does not exist", describePath(segs[:1]))
		}
		if !ok && len(segs) > 1 {
			child = map[string]any{}
			if segs[1].isIndex {
				child = []any{}
			}
		}
		nv, err := setPath(child, segs[1:], v, create)
		if err != nil {
			return nil, err
		}
		c[s.key] = nv
		return c, nil
	case []any:
		if !s.isIndex {
			break
		}
		switch {
		case s.index < len(c):
			nv, err := setPath(c[s.index], segs[1:], v, create)
			if err != nil {
				return nil, err
			}
			c[s.index] = nv
			return c, nil
		case s.index == len(c) && create:
			nv, err := setPath(map[string]any{}, segs[1:], v, create)
			if err != nil {
				return nil, err
			}
			return append(c, nv), nil
		}
	case nil:
		if create {
			if s.isIndex {
				return setPath([]any{}, segs, v, create)
			}
			return setPath(map[string]any{}, segs, v, create)
		}
	}
	return nil, fmt.Errorf("%s does not exist", describePath(segs[:1]))
}

// removePath deletes the key or list item at segs.
func removePath(doc any, segs []pathSeg) (any, error) {
	s := segs[0]
	last := len(segs) == 1
	switch c := doc.(type) {
	case map[string]any:
		child, ok := c[s.key]
		if s.isIndex || !ok {
			break
		}
		if last {
			delete(c, s.key)
			return c, nil
		}
		nv, err := removePath(child, segs[1:])
		if err != nil {
			return nil, err
		}
		c[s.key] = nv
		return c, nil
	case []any:
		if !s.isIndex || s.index >= len(c) {
			break
		}
		if last {
			return append(c[:s.index:s.index], c[s.index+1:]...), nil
		}
		nv, err := removePath(c[s.index], segs[1:])
		if err != nil {
			return nil, err
		}
		c[s.index] = nv
		return c, nil
	}
	return nil, fmt.Errorf("%s does not exist", describePath(segs[:1]))
}

// describePath writes segs back as a path, for errors.
func describePath(segs []pathSeg) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range segs {
		if s.isIndex {
			fmt.Fprintf(&b, "[%d]", s.index)
		} else {
			b.WriteString("." + s.key)
		}
	}
	return b.String()
}
