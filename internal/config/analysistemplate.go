package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// KindAnalysisTemplate is the kind of the files, in AnalysisTemplateDir at
// the root of a repository, that hold analyses shared by the repository's
// applications.
const KindAnalysisTemplate = "AnalysisTemplate"

// AnalysisTemplateDir is where, relative to a repository's root, its
// AnalysisTemplate files live (PipeCD's folder name).
const AnalysisTemplateDir = ".pipe"

// The strategies of an ANALYSIS metric.
const (
	// AnalysisStrategyThreshold checks the query's current values against
	// expected{min, max}. It is the default.
	AnalysisStrategyThreshold = "THRESHOLD"
	// AnalysisStrategyPrevious compares the primary now with the primary
	// during the application's last successful analysis.
	AnalysisStrategyPrevious = "PREVIOUS"
	// AnalysisStrategyCanaryBaseline compares the canary with the baseline.
	AnalysisStrategyCanaryBaseline = "CANARY_BASELINE"
	// AnalysisStrategyCanaryPrimary compares the canary with the primary.
	AnalysisStrategyCanaryPrimary = "CANARY_PRIMARY"
)

// The deviations the comparative strategies fail on.
const (
	// AnalysisDeviationEither fails on a significant difference either
	// way. It is the default.
	AnalysisDeviationEither = "EITHER"
	// AnalysisDeviationHigh fails only when the new values are higher.
	AnalysisDeviationHigh = "HIGH"
	// AnalysisDeviationLow fails only when the new values are lower.
	AnalysisDeviationLow = "LOW"
)

var (
	analysisStrategies = []string{AnalysisStrategyThreshold, AnalysisStrategyPrevious, AnalysisStrategyCanaryBaseline, AnalysisStrategyCanaryPrimary}
	analysisDeviations = []string{AnalysisDeviationEither, AnalysisDeviationHigh, AnalysisDeviationLow}
)

// AnalysisTemplateSpec is the spec of an AnalysisTemplate file: named
// metrics and HTTP checks that ANALYSIS stages use with template{name}.
type AnalysisTemplateSpec struct {
	Metrics map[string]AnalysisMetrics `yaml:"metrics"`
	// Logs are accepted for PipeCD's sake; Ferry runs no log analysis.
	Logs  map[string]map[string]any `yaml:"logs"`
	HTTPS map[string]AnalysisHTTP   `yaml:"https"`
}

// AnalysisTemplates is what a repository's AnalysisTemplate files define,
// all files merged.
type AnalysisTemplates struct {
	Metrics map[string]AnalysisMetrics
	HTTPS   map[string]AnalysisHTTP
	// Files maps each metric and check name, prefixed "metrics." or
	// "https.", to the file defining it, for error messages.
	Files map[string]string
}

// ParseAnalysisTemplate strictly parses and validates an AnalysisTemplate
// file read from file. Both apiVersions are accepted.
func ParseAnalysisTemplate(file string, data []byte) (*AnalysisTemplateSpec, error) {
	var d doc[AnalysisTemplateSpec]
	if err := Decode(file, data, &d); err != nil {
		return nil, err
	}
	if d.APIVersion != APIVersionFerry && d.APIVersion != APIVersionPipeCD {
		return nil, FieldError(file, data, "apiVersion", "must be %s or %s, not %q", APIVersionFerry, APIVersionPipeCD, d.APIVersion)
	}
	if d.Kind != KindAnalysisTemplate {
		return nil, FieldError(file, data, "kind", "must be %s, not %q", KindAnalysisTemplate, d.Kind)
	}
	for _, name := range slices.Sorted(maps.Keys(d.Spec.Metrics)) {
		m := d.Spec.Metrics[name]
		if m.Template != nil {
			return nil, FieldError(file, data, "spec.metrics."+name+".template", "a template cannot use another template")
		}
		if e := m.Check(); e != nil {
			return nil, FieldError(file, data, "spec.metrics."+name+"."+e.Field, "%s", e.Message)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Spec.HTTPS)) {
		h := d.Spec.HTTPS[name]
		if h.Template != nil {
			return nil, FieldError(file, data, "spec.https."+name+".template", "a template cannot use another template")
		}
		if e := h.Check(); e != nil {
			return nil, FieldError(file, data, "spec.https."+name+"."+e.Field, "%s", e.Message)
		}
	}
	return &d.Spec, nil
}

// LoadAnalysisTemplates reads every AnalysisTemplate file (*.yaml, *.yml)
// in AnalysisTemplateDir under repoDir; files of other kinds there are left
// alone. A repository without any gives empty, non-nil templates. Two
// files defining the same name is an error naming both.
func LoadAnalysisTemplates(repoDir string) (*AnalysisTemplates, error) {
	out := &AnalysisTemplates{Metrics: map[string]AnalysisMetrics{}, HTTPS: map[string]AnalysisHTTP{}, Files: map[string]string{}}
	dir := filepath.Join(repoDir, AnalysisTemplateDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, &Error{File: AnalysisTemplateDir, Message: err.Error()}
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (filepath.Ext(name) != ".yaml" && filepath.Ext(name) != ".yml") {
			continue
		}
		rel := filepath.ToSlash(filepath.Join(AnalysisTemplateDir, name))
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, &Error{File: rel, Message: err.Error()}
		}
		// Only the kind is read here, leniently: other kinds (PipeCD's
		// EventWatcher) have their own schema.
		var h struct {
			Kind string `yaml:"kind"`
		}
		if err := yaml.Unmarshal(data, &h); err != nil {
			return nil, Decode(rel, data, &h)
		}
		if h.Kind != KindAnalysisTemplate {
			continue
		}
		spec, err := ParseAnalysisTemplate(rel, data)
		if err != nil {
			return nil, err
		}
		for k, m := range spec.Metrics {
			if prev, dup := out.Files["metrics."+k]; dup {
				return nil, FieldError(rel, data, "spec.metrics."+k, "metric template %q is also defined in %s", k, prev)
			}
			out.Metrics[k], out.Files["metrics."+k] = m, rel
		}
		for k, h := range spec.HTTPS {
			if prev, dup := out.Files["https."+k]; dup {
				return nil, FieldError(rel, data, "spec.https."+k, "https template %q is also defined in %s", k, prev)
			}
			out.HTTPS[k], out.Files["https."+k] = h, rel
		}
	}
	return out, nil
}

// Check reports the first invalid field of a metric that does not use a
// template (or one already merged with its template): an *Error whose
// Field is relative to the metric ("query") and whose File is empty, or
// nil when the metric is valid. Whether its provider exists is for the
// agent to say.
func (m *AnalysisMetrics) Check() *Error {
	switch {
	case strings.TrimSpace(m.Provider) == "":
		return &Error{Field: "provider", Message: "is required: the name of one of the agent's analysisProviders"}
	case strings.TrimSpace(m.Query) == "":
		return &Error{Field: "query", Message: "is required"}
	case m.Interval <= 0:
		return &Error{Field: "interval", Message: "is required and must be positive: how often the query runs, such as 1m"}
	case m.Strategy != "" && !slices.Contains(analysisStrategies, m.Strategy):
		return &Error{Field: "strategy", Message: fmt.Sprintf("unknown strategy %q: use %s", m.Strategy, strings.Join(analysisStrategies, ", "))}
	case m.Deviation != "" && !slices.Contains(analysisDeviations, m.Deviation):
		return &Error{Field: "deviation", Message: fmt.Sprintf("unknown deviation %q: use %s", m.Deviation, strings.Join(analysisDeviations, ", "))}
	case m.FailureLimit < 0:
		return &Error{Field: "failureLimit", Message: "must not be negative"}
	case m.Timeout < 0:
		return &Error{Field: "timeout", Message: "must not be negative"}
	}
	if m.Strategy == "" || m.Strategy == AnalysisStrategyThreshold {
		if m.Expected.Min == nil && m.Expected.Max == nil {
			return &Error{Field: "expected", Message: "is required by the THRESHOLD strategy: give min, max or both"}
		}
		if m.Expected.Min != nil && m.Expected.Max != nil && *m.Expected.Min > *m.Expected.Max {
			return &Error{Field: "expected", Message: fmt.Sprintf("min %v is more than max %v", *m.Expected.Min, *m.Expected.Max)}
		}
	}
	return nil
}

// Check reports the first invalid field of an HTTP check that does not use
// a template (or one already merged with its template), as
// AnalysisMetrics.Check does.
func (h *AnalysisHTTP) Check() *Error {
	switch {
	case strings.TrimSpace(h.URL) == "":
		return &Error{Field: "url", Message: "is required"}
	case h.Method != "" && !validHTTPMethod(h.Method):
		return &Error{Field: "method", Message: fmt.Sprintf("%q is not an HTTP method such as GET or POST", h.Method)}
	case h.ExpectedCode != 0 && (h.ExpectedCode < 100 || h.ExpectedCode > 599):
		return &Error{Field: "expectedCode", Message: fmt.Sprintf("%d is not an HTTP status code", h.ExpectedCode)}
	case h.Interval <= 0:
		return &Error{Field: "interval", Message: "is required and must be positive: how often the request is sent, such as 1m"}
	case h.FailureLimit < 0:
		return &Error{Field: "failureLimit", Message: "must not be negative"}
	case h.Timeout < 0:
		return &Error{Field: "timeout", Message: "must not be negative"}
	}
	for i, kv := range h.Headers {
		field := fmt.Sprintf("headers[%d]", i)
		for k := range kv {
			if k != "key" && k != "value" {
				return &Error{Field: field, Message: fmt.Sprintf("unknown field %q: write {key: Name, value: v}", k)}
			}
		}
		if strings.TrimSpace(kv["key"]) == "" {
			return &Error{Field: field + ".key", Message: "is required: the header's name"}
		}
	}
	return nil
}

// HeaderPairs returns the check's headers as name, value pairs in order.
func (h *AnalysisHTTP) HeaderPairs() [][2]string {
	out := make([][2]string, 0, len(h.Headers))
	for _, kv := range h.Headers {
		out = append(out, [2]string{kv["key"], kv["value"]})
	}
	return out
}

// validHTTPMethod reports whether m is a method token net/http sends.
func validHTTPMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return true
	}
	return false
}
