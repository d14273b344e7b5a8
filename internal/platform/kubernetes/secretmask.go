package kubernetes

import (
	"maps"
	"slices"
	"strings"
)

// annotationLastApplied is the annotation `kubectl apply` keeps the whole
// applied object in: for a Secret, its values.
const annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// isSecret reports whether obj is a core v1 Secret.
func isSecret(obj map[string]any) bool {
	kind, _ := obj["kind"].(string)
	api, _ := obj["apiVersion"].(string)
	return kind == "Secret" && api == "v1"
}

// secretMask stands placeholders in for a Secret's values, as Argo CD
// masks them: every distinct value gets its own run of '+' (8, 9, 10...
// long), so a diff shows which keys changed, and that two keys hold the
// same value, but never a value or its length.
type secretMask struct {
	seen map[string]string
}

// placeholder returns v's placeholder, the same for equal values.
func (m *secretMask) placeholder(v any) string {
	s, ok := v.(string)
	if !ok {
		s = formatValue(v)
	}
	if p, ok := m.seen[s]; ok {
		return p
	}
	if m.seen == nil {
		m.seen = map[string]string{}
	}
	p := strings.Repeat("+", 8+len(m.seen))
	m.seen[s] = p
	return p
}

// apply returns obj with the values of data and stringData, and the
// last-applied annotation, replaced by placeholders: a copy of the maps it
// changes, obj itself left as it was. Objects other than Secrets are
// returned as they are.
func (m *secretMask) apply(obj map[string]any) map[string]any {
	if !isSecret(obj) {
		return obj
	}
	out := maps.Clone(obj)
	for _, field := range []string{"data", "stringData"} {
		values, ok := obj[field].(map[string]any)
		if !ok {
			if obj[field] != nil {
				out[field] = m.placeholder(obj[field])
			}
			continue
		}
		masked := make(map[string]any, len(values))
		for _, k := range slices.Sorted(maps.Keys(values)) {
			masked[k] = m.placeholder(values[k])
		}
		out[field] = masked
	}
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if anns, ok := meta["annotations"].(map[string]any); ok {
			if v, ok := anns[annotationLastApplied]; ok {
				mm, am := maps.Clone(meta), maps.Clone(anns)
				am[annotationLastApplied] = m.placeholder(v)
				mm["annotations"] = am
				out["metadata"] = mm
			}
		}
	}
	return out
}

// maskSecrets returns desired and live with their Secret values masked by
// one secretMask, so equal values get equal placeholders on both sides and
// a changed value shows as a changed placeholder.
func maskSecrets(desired, live map[string]any) (map[string]any, map[string]any) {
	if !isSecret(desired) && !isSecret(live) {
		return desired, live
	}
	var m secretMask
	return m.apply(desired), m.apply(live)
}
