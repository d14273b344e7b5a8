package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ferrycd/ferry/internal/model"
)

// pages holds one template set per page, each the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{
	"login", "error", "applications", "application", "deployments", "deployment", "events", "agents", "settings", "insights",
}

func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("parse console layout: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("parse console page %s: %w", n, err)
		}
		p.byName[n] = t
	}
	return p, nil
}

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string
	Session *session
	CSRF    string
	Notice  string
	Can     func(rpc string) bool
	Data    any
}

func (h *Handler) view(r *http.Request, s *session, title, nav string, data any) *view {
	v := &view{Title: title, Nav: nav, Session: s, Data: data, Can: func(string) bool { return false }}
	if r != nil {
		v.Notice = r.URL.Query().Get("notice")
	}
	if s != nil {
		v.CSRF = s.CSRFToken
		v.Can = func(rpc string) bool { return h.can(s, rpc) }
	}
	return v
}

// render writes page name with v, or a plain error if rendering fails.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	var buf bytes.Buffer
	if err := h.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.logger.ErrorContext(r.Context(), "render console page", "page", name, "error", err)
		http.Error(w, "The page could not be drawn; the error is logged. Try again or tell your operator.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fragments renders the named templates of page with v, each as the live
// event of the same name (the id of the element it replaces). ok is false,
// and the failure logged, when one does not render.
func (h *Handler) fragments(r *http.Request, page string, v *view, names ...string) (evs []event, ok bool) {
	for _, name := range names {
		var buf bytes.Buffer
		if err := h.pages.byName[page].ExecuteTemplate(&buf, name, v); err != nil {
			h.logger.ErrorContext(r.Context(), "render live fragment", "page", page, "fragment", name, "error", err)
			return nil, false
		}
		evs = append(evs, event{Name: name, Data: buf.String()})
	}
	return evs, true
}

// fail shows an error page saying what went wrong and what to do.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	h.render(w, r, status, "error", h.view(r, s, http.StatusText(status), "", msg))
}

var funcs = template.FuncMap{
	"ago":       ago,
	"when":      when,
	"short":     short,
	"lower":     func(s any) string { return strings.ToLower(fmt.Sprint(s)) },
	"labels":    formatLabels,
	"stageOps":  stageOps,
	"dict":      dict,
	"duration":  duration,
	"completed": func(s model.StageStatus) bool { return s.Completed() },
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		// Not in seconds: live fragments would change every second.
		return "under a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// duration says how long something took, or when it started while it
// runs: a running clock would redraw live fragments every second and take
// the keyboard focus away from their buttons.
func duration(from, to time.Time) string {
	if from.IsZero() {
		return ""
	}
	if to.IsZero() {
		return "started " + from.UTC().Format("15:04:05") + " UTC"
	}
	return "took " + to.Sub(from).Round(time.Second).String()
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

func dict(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

// skippableStages can be skipped while they run, as the API allows.
var skippableStages = map[string]bool{"WAIT": true, "WAIT_APPROVAL": true, "ANALYSIS": true, "SCRIPT_RUN": true}

// ops says which manual operations a stage offers now.
type ops struct{ Approve, Skip bool }

func stageOps(d *model.Deployment, st *model.Stage) ops {
	if d.Status.Completed() || st.Status != model.StageRunning {
		return ops{}
	}
	return ops{Approve: st.Name == "WAIT_APPROVAL", Skip: skippableStages[st.Name]}
}
