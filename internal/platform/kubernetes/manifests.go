package kubernetes

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// ManifestError is a problem in one manifest file, located by line when the
// YAML parser, or the document's position, tells it.
type ManifestError struct {
	File string // as the user knows it: relative to the repository
	Line int    // 1-based; 0 when unknown
	Msg  string
}

// Error formats the problem as file:line: message, so editors can jump to it.
func (e *ManifestError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// document is one YAML document of a file and the line it starts on.
type document struct {
	line int
	data []byte
}

// splitDocuments splits a multi-document YAML file at its "---" separators,
// remembering where each document starts so parser errors, which count
// lines from the document's start, can be reported against the file.
func splitDocuments(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			docs = append(docs, cur)
			cur = document{line: n + 1}
			if rest := strings.TrimSpace(line[3:]); rest != "" && !strings.HasPrefix(rest, "#") {
				// "--- value": the document starts on the separator's line.
				cur = document{line: n, data: []byte(rest + "\n")}
			}
			continue
		}
		cur.data = append(cur.data, line...)
		cur.data = append(cur.data, '\n')
	}
	return append(docs, cur)
}

// yamlLine finds the "line N" a go-yaml error message mentions.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseManifests decodes a file's documents into objects. Empty documents
// are skipped and List kinds (v1/List, ConfigMapList...) are flattened into
// their items. file names the file in errors.
func parseManifests(file string, data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range splitDocuments(data) {
		js, err := yaml.YAMLToJSON(doc.data)
		if err != nil {
			return nil, yamlError(file, doc.line, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue // only comments or whitespace
		}
		var v any
		if err := utiljson.Unmarshal(js, &v); err != nil {
			return nil, &ManifestError{File: file, Line: doc.line, Msg: err.Error()}
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, &ManifestError{File: file, Line: doc.line, Msg: "document is not a mapping; each document must be one Kubernetes object"}
		}
		objs, err := toObjects(m)
		if err != nil {
			return nil, &ManifestError{File: file, Line: doc.line, Msg: err.Error()}
		}
		out = append(out, objs...)
	}
	return out, nil
}

// yamlError turns a go-yaml error into a ManifestError on the file's line.
func yamlError(file string, docLine int, err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		line = docLine + n - 1
		msg = strings.Replace(msg, m[0]+": ", "", 1)
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if line == 0 {
		line = docLine
	}
	return &ManifestError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// toObjects checks that m is a Kubernetes object and flattens lists.
func toObjects(m map[string]any) ([]*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{Object: m}
	if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
		return nil, fmt.Errorf("document has no apiVersion or kind; every manifest must be a Kubernetes object")
	}
	if obj.IsList() {
		items, _ := m["items"].([]any)
		var out []*unstructured.Unstructured
		for i, it := range items {
			im, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s item %d is not a mapping", obj.GetKind(), i)
			}
			objs, err := toObjects(im)
			if err != nil {
				return nil, fmt.Errorf("%s item %d: %w", obj.GetKind(), i, err)
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("%s has no metadata.name; Ferry applies objects by name, so generateName is not enough", obj.GetKind())
	}
	return []*unstructured.Unstructured{obj}, nil
}
