package kubernetes

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrycd/ferry/internal/platform"
)

// skippedFields are the paths drift never reports: what the API server
// keeps for itself, what controllers write, and Ferry's ownership marks,
// which change with every deployment.
var skippedFields = map[string]bool{
	"status":                                        true,
	"metadata.managedFields":                        true,
	"metadata.resourceVersion":                      true,
	"metadata.uid":                                  true,
	"metadata.generation":                           true,
	"metadata.creationTimestamp":                    true,
	"metadata.selfLink":                             true,
	"metadata.deletionTimestamp":                    true,
	"metadata.deletionGracePeriodSeconds":           true,
	"metadata.labels." + LabelManagedBy:             true,
	"metadata.labels." + LabelApplication:           true,
	"metadata.annotations." + AnnotationCommit:      true,
	"metadata.annotations." + AnnotationResourceKey: true,
}

// maxValueLen bounds a value in a diff line; longer ones are cut.
const maxValueLen = 200

// diffFields compares desired (what applying Git would leave) with live,
// field by field, and returns the differences in path order. Maps are
// compared key by key; lists of maps item by item; lists of scalars as one
// value, which reads better ("args: [a] → [a b]"). Paths in ignored, and
// everything below them, are left out, as are skippedFields. A Secret's
// values never appear: see maskSecrets.
func diffFields(desired, live map[string]any, ignored []string) []platform.FieldDrift {
	desired, live = maskSecrets(desired, live)
	w := fieldWalker{ignored: ignored}
	w.walk("", desired, live, true, true)
	return w.out
}

type fieldWalker struct {
	ignored []string
	out     []platform.FieldDrift
}

func (w *fieldWalker) skip(path string) bool {
	if skippedFields[path] {
		return true
	}
	for _, p := range w.ignored {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

func (w *fieldWalker) walk(path string, d, l any, inD, inL bool) {
	if path != "" && w.skip(path) {
		return
	}
	if !inD || !inL {
		f := platform.FieldDrift{Path: path, InDesired: inD, InLive: inL}
		if inD {
			f.Desired = formatValue(d)
		} else {
			f.Live = formatValue(l)
		}
		w.out = append(w.out, f)
		return
	}
	dm, dIsMap := d.(map[string]any)
	lm, lIsMap := l.(map[string]any)
	if dIsMap && lIsMap {
		keys := make([]string, 0, len(dm)+len(lm))
		for k := range dm {
			keys = append(keys, k)
		}
		for k := range lm {
			if _, ok := dm[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			dv, okD := dm[k]
			lv, okL := lm[k]
			w.walk(join(path, k), dv, lv, okD, okL)
		}
		return
	}
	ds, dIsList := d.([]any)
	ls, lIsList := l.([]any)
	if dIsList && lIsList && (hasMaps(ds) || hasMaps(ls)) {
		for i := range max(len(ds), len(ls)) {
			var dv, lv any
			if i < len(ds) {
				dv = ds[i]
			}
			if i < len(ls) {
				lv = ls[i]
			}
			w.walk(join(path, strconv.Itoa(i)), dv, lv, i < len(ds), i < len(ls))
		}
		return
	}
	if !reflect.DeepEqual(d, l) {
		w.out = append(w.out, platform.FieldDrift{Path: path, Desired: formatValue(d), Live: formatValue(l), InDesired: true, InLive: true})
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func hasMaps(l []any) bool {
	for _, v := range l {
		if _, ok := v.(map[string]any); ok {
			return true
		}
	}
	return false
}

// formatValue writes a value for a diff line: strings as they are unless
// empty, padded or multi-line (then quoted), scalars as Go prints them,
// maps and lists as compact JSON.
func formatValue(v any) string {
	var s string
	switch v := v.(type) {
	case string:
		s = v
		if v == "" || strings.TrimSpace(v) != v || strings.ContainsAny(v, "\n\t") {
			s = strconv.Quote(v)
		}
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	case nil:
		s = "null"
	default:
		s = fmt.Sprint(v)
	}
	if len(s) > maxValueLen {
		s = strings.ToValidUTF8(s[:maxValueLen], "") + "…"
	}
	return s
}
