package analysis

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// defaultTimeout bounds a query or an HTTP check whose timeout is unset.
const defaultTimeout = 30 * time.Second

// QueryArgs is what a query template can use, as PipeCD names it:
//
//	{{ .App.Name }}            the application's name
//	{{ .K8s.Namespace }}       a Kubernetes application's namespace ("default" when unset)
//	{{ .AppCustomArgs.x }}     the stage's template.appArgs
//	{{ .Variant.Name }}        the variant queried: canary, baseline or primary
//	                           (the values of a Kubernetes app's variantLabel)
//	{{ .VariantCustomArgs.x }} the metric's canaryArgs, baselineArgs or primaryArgs
//
// THRESHOLD and PREVIOUS query the primary. A key missing from a map is an
// error, not an empty string. HTTP checks' URLs are templates too.
type QueryArgs struct {
	App               AppArgs
	K8s               K8sArgs
	Variant           VariantArgs
	AppCustomArgs     map[string]string
	VariantCustomArgs map[string]string
}

// AppArgs describes the application to query templates.
type AppArgs struct {
	Name string
	// Env is always empty; PipeCD declares it and never fills it.
	Env string
}

// K8sArgs describes a Kubernetes application to query templates.
type K8sArgs struct {
	Namespace string
}

// VariantArgs names the variant a query is for.
type VariantArgs struct {
	Name string
}

// variant is one of the variants a query is rendered for.
type variant struct {
	role string // canary, baseline or primary, for log lines
	name string // the variant label's value
	args map[string]string
}

// plan checks the stage's metrics and HTTP checks, fills them in from the
// repository's templates and the defaults, renders their queries, and
// returns their analyzers. Every invalid one is reported, each error
// naming its field.
func (s *Stage) plan(in platform.StageInput, opts *config.AnalysisOptions, log platform.Logger) ([]*analyzer, error) {
	var (
		out  []*analyzer
		errs []error
	)
	templates := sync.OnceValues(func() (*config.AnalysisTemplates, error) {
		return config.LoadAnalysisTemplates(in.RepoDir)
	})
	prev := &previousLookup{fn: s.previous, in: in}
	if len(opts.Logs) > 0 {
		errs = append(errs, errors.New("logs: Ferry runs no log analysis (PipeCD's STACKDRIVER logs): use metrics or https"))
	}
	for i, m := range opts.Metrics {
		a, err := s.planMetric(fmt.Sprintf("metrics[%d]", i), m, in, templates, prev, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	for i, h := range opts.HTTPS {
		a, err := s.planHTTP(fmt.Sprintf("https[%d]", i), h, in, templates, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	if err := errors.Join(errs...); err != nil {
		where := "the pipeline"
		if in.App != nil && in.App.File != "" {
			where = in.App.File
		}
		return nil, fmt.Errorf("invalid %s options in %s: %w", StageName, where, err)
	}
	return out, nil
}

// planMetric builds the analyzer of one metric.
func (s *Stage) planMetric(id string, m config.AnalysisMetrics, in platform.StageInput,
	templates func() (*config.AnalysisTemplates, error), prev *previousLookup, log platform.Logger) (*analyzer, error) {
	name, from := id, ""
	var appArgs map[string]string
	if ref := m.Template; ref != nil {
		base, tname, tfrom, err := useTemplate(id, ref, templates, "metric", "metrics.",
			func(t *config.AnalysisTemplates) map[string]config.AnalysisMetrics { return t.Metrics })
		if err != nil {
			return nil, err
		}
		m = mergeMetric(base, m)
		name, from, appArgs = tname, tfrom, ref.AppArgs
	}
	if e := m.Check(); e != nil {
		return nil, fmt.Errorf("%s.%s: %s%s", id, e.Field, e.Message, from)
	}
	src, ok := s.providers[m.Provider]
	if !ok {
		return nil, fmt.Errorf("%s.provider: unknown analysis provider %q%s: %s", id, m.Provider, from, s.providerList())
	}
	mc := &metricCheck{
		provider:  m.Provider,
		src:       src,
		strategy:  cmp.Or(m.Strategy, config.AnalysisStrategyThreshold),
		deviation: cmp.Or(m.Deviation, config.AnalysisDeviationEither),
		expected:  m.Expected,
		interval:  m.Interval.Std(),
		timeout:   cmp.Or(m.Timeout.Std(), defaultTimeout),
		previous:  prev,
	}
	canary, baseline, primary := variants(in, m)
	switch mc.strategy {
	case config.AnalysisStrategyThreshold, config.AnalysisStrategyPrevious:
		mc.variants = []variant{primary}
	case config.AnalysisStrategyCanaryBaseline:
		mc.variants = []variant{canary, baseline}
	case config.AnalysisStrategyCanaryPrimary:
		mc.variants = []variant{canary, primary}
	}
	for _, v := range mc.variants {
		q, err := render(m.Query, queryArgs(in, appArgs, v))
		if err != nil {
			return nil, fmt.Errorf("%s.query: %w%s", id, err, from)
		}
		mc.queries = append(mc.queries, q)
	}
	log.Info(fmt.Sprintf("%s: %s every %s on %s: %s", name, mc.strategy, mc.interval, m.Provider, mc.describeQueries()))
	return &analyzer{
		id: id, name: name,
		interval: mc.interval, failureLimit: m.FailureLimit, skipOnNoData: m.SkipOnNoData,
		evaluate: mc.evaluate,
	}, nil
}

// planHTTP builds the analyzer of one HTTP check.
func (s *Stage) planHTTP(id string, h config.AnalysisHTTP, in platform.StageInput,
	templates func() (*config.AnalysisTemplates, error), log platform.Logger) (*analyzer, error) {
	name, from := id, ""
	var appArgs map[string]string
	if ref := h.Template; ref != nil {
		base, tname, tfrom, err := useTemplate(id, ref, templates, "https", "https.",
			func(t *config.AnalysisTemplates) map[string]config.AnalysisHTTP { return t.HTTPS })
		if err != nil {
			return nil, err
		}
		h = mergeHTTP(base, h)
		name, from, appArgs = tname, tfrom, ref.AppArgs
	}
	if e := h.Check(); e != nil {
		return nil, fmt.Errorf("%s.%s: %s%s", id, e.Field, e.Message, from)
	}
	_, _, primary := variants(in, config.AnalysisMetrics{})
	u, err := render(h.URL, queryArgs(in, appArgs, primary))
	if err != nil {
		return nil, fmt.Errorf("%s.url: %w%s", id, err, from)
	}
	hc := &httpCheck{
		url:          u,
		method:       cmp.Or(h.Method, "GET"),
		headers:      h.HeaderPairs(),
		expectedCode: cmp.Or(h.ExpectedCode, 200),
		expectedBody: h.ExpectedResponse,
		timeout:      cmp.Or(h.Timeout.Std(), defaultTimeout),
		client:       s.client,
	}
	if err := hc.validURL(); err != nil {
		return nil, fmt.Errorf("%s.url: %w%s", id, err, from)
	}
	log.Info(fmt.Sprintf("%s: %s every %s", name, hc.describe(), h.Interval.Std()))
	return &analyzer{
		id: id, name: name, http: true,
		interval: h.Interval.Std(), failureLimit: h.FailureLimit, skipOnNoData: h.SkipOnNoData,
		evaluate: hc.evaluate,
	}, nil
}

// useTemplate finds the template ref names among the repository's
// templates of one kind, which pick returns: kind names it in errors
// ("metric", "https"), filesKey prefixes its name in Files. name is how
// the metric or check is called for people, from what errors add.
func useTemplate[T any](id string, ref *config.AnalysisTemplateRef, templates func() (*config.AnalysisTemplates, error),
	kind, filesKey string, pick func(*config.AnalysisTemplates) map[string]T) (base T, name, from string, err error) {
	if ref.Name == "" {
		return base, "", "", fmt.Errorf("%s.template.name: is required", id)
	}
	tpl, err := templates()
	if err != nil {
		return base, "", "", fmt.Errorf("%s.template: %w", id, err)
	}
	all := pick(tpl)
	base, ok := all[ref.Name]
	if !ok {
		return base, "", "", fmt.Errorf("%s.template.name: no %s template %q in %s/ (%s)", id, kind, ref.Name, config.AnalysisTemplateDir, names(all))
	}
	return base, fmt.Sprintf("%s (template %s)", id, ref.Name),
		fmt.Sprintf(" (from template %q in %s)", ref.Name, tpl.Files[filesKey+ref.Name]), nil
}

// mergeMetric returns the template's metric with the fields the stage's
// entry sets on top. PipeCD ignores them; overriding is what a user
// setting them would expect.
func mergeMetric(base, over config.AnalysisMetrics) config.AnalysisMetrics {
	base.Strategy = cmp.Or(over.Strategy, base.Strategy)
	base.Provider = cmp.Or(over.Provider, base.Provider)
	base.Query = cmp.Or(over.Query, base.Query)
	base.Interval = cmp.Or(over.Interval, base.Interval)
	base.FailureLimit = cmp.Or(over.FailureLimit, base.FailureLimit)
	base.SkipOnNoData = base.SkipOnNoData || over.SkipOnNoData
	base.Deviation = cmp.Or(over.Deviation, base.Deviation)
	base.Timeout = cmp.Or(over.Timeout, base.Timeout)
	if over.Expected.Min != nil || over.Expected.Max != nil {
		base.Expected = over.Expected
	}
	base.BaselineArgs = mergeArgs(base.BaselineArgs, over.BaselineArgs)
	base.CanaryArgs = mergeArgs(base.CanaryArgs, over.CanaryArgs)
	base.PrimaryArgs = mergeArgs(base.PrimaryArgs, over.PrimaryArgs)
	base.Template = nil
	return base
}

// mergeHTTP is mergeMetric for HTTP checks.
func mergeHTTP(base, over config.AnalysisHTTP) config.AnalysisHTTP {
	base.URL = cmp.Or(over.URL, base.URL)
	base.Method = cmp.Or(over.Method, base.Method)
	if len(over.Headers) > 0 {
		base.Headers = over.Headers
	}
	base.ExpectedCode = cmp.Or(over.ExpectedCode, base.ExpectedCode)
	base.ExpectedResponse = cmp.Or(over.ExpectedResponse, base.ExpectedResponse)
	base.Interval = cmp.Or(over.Interval, base.Interval)
	base.FailureLimit = cmp.Or(over.FailureLimit, base.FailureLimit)
	base.SkipOnNoData = base.SkipOnNoData || over.SkipOnNoData
	base.Timeout = cmp.Or(over.Timeout, base.Timeout)
	base.Template = nil
	return base
}

func mergeArgs(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}

// variants returns the canary, baseline and primary variants of the
// application, named by its variant label, with the metric's args.
func variants(in platform.StageInput, m config.AnalysisMetrics) (canary, baseline, primary variant) {
	canary = variant{role: "canary", name: "canary", args: m.CanaryArgs}
	baseline = variant{role: "baseline", name: "baseline", args: m.BaselineArgs}
	primary = variant{role: "primary", name: "primary", args: m.PrimaryArgs}
	if in.App != nil && in.App.Kubernetes != nil {
		vl := in.App.Kubernetes.VariantLabel
		canary.name = cmp.Or(vl.CanaryValue, canary.name)
		baseline.name = cmp.Or(vl.BaselineValue, baseline.name)
		primary.name = cmp.Or(vl.PrimaryValue, primary.name)
	}
	return canary, baseline, primary
}

// queryArgs returns the template arguments of a query for variant v.
func queryArgs(in platform.StageInput, appArgs map[string]string, v variant) QueryArgs {
	a := QueryArgs{
		AppCustomArgs:     appArgs,
		VariantCustomArgs: v.args,
		Variant:           VariantArgs{Name: v.name},
	}
	a.App.Name = in.Deployment.GetApplicationName()
	if a.App.Name == "" && in.App != nil && in.App.Generic != nil {
		a.App.Name = in.App.Generic.Name
	}
	if in.App != nil && in.App.Kubernetes != nil {
		a.K8s.Namespace = cmp.Or(in.App.Kubernetes.Input.Namespace, appArgs["k8sNamespace"], "default")
	} else {
		// PipeCD's plugin era passes the namespace as this app arg.
		a.K8s.Namespace = appArgs["k8sNamespace"]
	}
	return a
}

// render executes a query template.
func render(text string, args QueryArgs) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("bad template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, args); err != nil {
		return "", fmt.Errorf("bad template: %w", err)
	}
	return strings.TrimSpace(b.String()), nil
}

// providerList says which providers the agent has, for an unknown name.
func (s *Stage) providerList() string {
	if len(s.names) == 0 {
		return "the agent has no analysisProviders"
	}
	return "the agent has " + strings.Join(s.names, ", ")
}

// names lists a template map's names for an error message.
func names[V any](m map[string]V) string {
	if len(m) == 0 {
		return "there are none"
	}
	return "there are " + strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
