package kubernetes

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
)

// Traffic routing methods of spec.trafficRouting.method.
const (
	routingPodSelector = "podselector"
	routingIstio       = "istio"
	routingGatewayAPI  = "gatewayapi"
	routingSMI         = "smi"
)

// routingMethod returns the application's traffic routing method,
// podselector when it sets none.
func routingMethod(spec *config.KubernetesSpec) (string, error) {
	if spec == nil || spec.TrafficRouting == nil || spec.TrafficRouting.Method == "" {
		return routingPodSelector, nil
	}
	switch m := strings.ToLower(spec.TrafficRouting.Method); m {
	case routingPodSelector, routingIstio, routingGatewayAPI, routingSMI:
		return m, nil
	default:
		return "", fmt.Errorf("trafficRouting.method %q: use podselector, istio, smi or gatewayapi", spec.TrafficRouting.Method)
	}
}

// weights are the shares of traffic, in percent, of the three variants.
type weights struct{ primary, canary, baseline int }

// String formats the weights for log lines.
func (w weights) String() string {
	return fmt.Sprintf("primary %d%%, canary %d%%, baseline %d%%", w.primary, w.canary, w.baseline)
}

// weightsOf reads K8S_TRAFFIC_ROUTING's options: all, or the three
// percentages (which the config checks add up to 100). No option at all
// routes everything to the primary.
func weightsOf(o *config.K8sTrafficRoutingOptions) weights {
	switch o.All {
	case variantPrimary:
		return weights{primary: 100}
	case variantCanary:
		return weights{canary: 100}
	case variantBaseline:
		return weights{baseline: 100}
	}
	w := weights{primary: int(o.Primary), canary: int(o.Canary), baseline: int(o.Baseline)}
	if w == (weights{}) {
		w.primary = 100
	}
	return w
}

// split shares total among the variants as PipeCD does: canary and
// baseline get their percentage of total, rounded down, the primary the
// rest.
func (w weights) split(total int) weights {
	c := w.canary * total / 100
	b := w.baseline * total / 100
	return weights{primary: total - c - b, canary: c, baseline: b}
}

// appService returns the application's Service among objs:
// spec.service.name, or the only Service of the manifests.
func appService(objs []*unstructured.Unstructured, spec *config.KubernetesSpec) (*unstructured.Unstructured, error) {
	svcs := findServices(objs, spec.Service.Name)
	switch {
	case len(svcs) == 1:
		return svcs[0], nil
	case len(svcs) == 0:
		return nil, fmt.Errorf("%s", noService(spec.Service.Name))
	default:
		return nil, fmt.Errorf("the manifests have %d Services: name the application's in spec.service.name", len(svcs))
	}
}

// routingObject returns, for istio, smi and gatewayapi, the object
// traffic routing edits among objs: the VirtualService or HTTPRoute the
// config names, else the only one (VirtualService, TrafficSplit or
// HTTPRoute) of the manifests, else the one named as the application's
// Service. It is nil for podselector.
func routingObject(objs []*unstructured.Unstructured, spec *config.KubernetesSpec, method string) (*unstructured.Unstructured, error) {
	var group, kind, name, field string
	switch method {
	case routingIstio:
		group, kind, field = "networking.istio.io", "VirtualService", "trafficRouting.istio.virtualService.name"
		if ic := spec.TrafficRouting.Istio; ic != nil {
			name = ic.VirtualService.Name
		}
	case routingGatewayAPI:
		group, kind, field = "gateway.networking.k8s.io", "HTTPRoute", "trafficRouting.gatewayAPI.httpRoute.name"
		if gc := spec.TrafficRouting.GatewayAPI; gc != nil {
			name = gc.HTTPRoute.Name
		}
	case routingSMI:
		// PipeCD's smi has no options: the TrafficSplit is found by kind,
		// and by the application's Service's name among several.
		group, kind, field = smiGroup, "TrafficSplit", "spec.service.name"
	default:
		return nil, nil
	}
	var all []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().Group == group && o.GetKind() == kind && (name == "" || o.GetName() == name) {
			all = append(all, o)
		}
	}
	if len(all) > 1 && name == "" && spec.Service.Name != "" {
		for _, o := range all {
			if o.GetName() == spec.Service.Name {
				return o, nil
			}
		}
	}
	switch {
	case len(all) == 1:
		return all[0], nil
	case len(all) > 1 && method == routingSMI:
		return nil, fmt.Errorf("the manifests have %d TrafficSplits: name the application's Service in spec.service.name and give its TrafficSplit the same name", len(all))
	case len(all) == 0 && name != "":
		return nil, fmt.Errorf("the manifests have no %s %s (%s)", kind, name, field)
	case len(all) == 0:
		return nil, fmt.Errorf("the manifests have no %s for %s traffic routing", kind, method)
	default:
		return nil, fmt.Errorf("the manifests have %d %ss: name the one to edit in %s", len(all), kind, field)
	}
}

// routePodSelector returns a copy of the application's Service selecting
// the one variant that gets all the traffic: its selector's variant label
// is set to that variant's value. A pod selector cannot split traffic, so
// one variant must have 100%.
func routePodSelector(objs []*unstructured.Unstructured, spec *config.KubernetesSpec, w weights) (*unstructured.Unstructured, string, error) {
	vl := variantLabelOf(spec)
	var variant string
	switch 100 {
	case w.primary:
		variant = variantPrimary
	case w.canary:
		variant = variantCanary
	case w.baseline:
		variant = variantBaseline
	default:
		return nil, "", fmt.Errorf("traffic routing by pod selector moves all traffic to one variant: set all: primary|canary|baseline, or one variant to 100%% (asked for %s); split traffic with trafficRouting.method istio or gatewayapi", w)
	}
	svc, err := appService(objs, spec)
	if err != nil {
		return nil, "", fmt.Errorf("traffic routing by pod selector: %w", err)
	}
	c := svc.DeepCopy()
	if err := setNestedLabel(c, vl.key, vl.value(variant), "spec", "selector"); err != nil {
		return nil, "", err
	}
	return c, fmt.Sprintf("Service %s selects %s=%s", c.GetName(), vl.key, vl.value(variant)), nil
}

// routeIstio returns a copy of the VirtualService with the weights set, as
// PipeCD does: in every HTTP route (or those trafficRouting.istio.
// editableRoutes names), the destinations to other hosts keep their
// weights, and the rest of 100 is split among three destinations to host
// with subsets named by the variant label's values (primary, canary,
// baseline by default: the DestinationRule's subsets select pods by the
// variant label). A destination's other fields (port) are kept from the
// route's first destination to host. host is trafficRouting.istio.host,
// else spec.service.name.
func routeIstio(vs *unstructured.Unstructured, spec *config.KubernetesSpec, w weights) (*unstructured.Unstructured, []string, error) {
	ic := spec.TrafficRouting.Istio
	host, editable := "", []string(nil)
	if ic != nil {
		host, editable = ic.Host, ic.EditableRoutes
	}
	if host == "" {
		host = spec.Service.Name
	}
	if host == "" {
		return nil, nil, fmt.Errorf("istio traffic routing needs the host the variants serve: set trafficRouting.istio.host (or spec.service.name)")
	}
	vl := variantLabelOf(spec)
	c := vs.DeepCopy()
	routes, _, _ := unstructured.NestedSlice(c.Object, "spec", "http")
	var lines []string
	edited := 0
	for i, r := range routes {
		route, ok := r.(map[string]any)
		if !ok {
			continue
		}
		name, _ := route["name"].(string)
		if len(editable) > 0 && !slices.Contains(editable, name) {
			continue
		}
		dests, _ := route["route"].([]any)
		var others []any
		other := 0
		template := map[string]any{}
		found := false
		for _, d := range dests {
			dm, _ := d.(map[string]any)
			dest, _ := dm["destination"].(map[string]any)
			if dest != nil && dest["host"] == host {
				if !found {
					template, found = maps.Clone(dest), true
				}
				continue
			}
			others = append(others, d)
			if n, ok := number(dm["weight"]); ok {
				other += int(n)
			}
		}
		s := w.split(max(100-other, 0))
		out := make([]any, 0, len(others)+3)
		for _, v := range []struct {
			subset string
			weight int
		}{{vl.primary, s.primary}, {vl.canary, s.canary}, {vl.baseline, s.baseline}} {
			d := maps.Clone(template)
			d["host"], d["subset"] = host, v.subset
			out = append(out, map[string]any{"destination": d, "weight": int64(v.weight)})
		}
		route["route"] = append(out, others...)
		routes[i] = route
		edited++
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		lines = append(lines, fmt.Sprintf("VirtualService %s route %s: %s subsets %s %d, %s %d, %s %d", c.GetName(), name, host,
			vl.primary, s.primary, vl.canary, s.canary, vl.baseline, s.baseline))
	}
	if edited == 0 {
		return nil, nil, fmt.Errorf("VirtualService %s has no HTTP route to edit (trafficRouting.istio.editableRoutes: %v)", c.GetName(), editable)
	}
	if err := unstructured.SetNestedSlice(c.Object, routes, "spec", "http"); err != nil {
		return nil, nil, err
	}
	return c, lines, nil
}

// routeGatewayAPI returns a copy of the HTTPRoute with the weights set.
// Gateway API routing is Ferry's own (PipeCD has none), designed after its
// Istio routing with Services as the backends, since an HTTPRoute splits
// traffic across Services rather than subsets:
//
//   - the primary's backend is the application's Service
//     (spec.service.name, or the manifests' only Service), or
//     `<service>-<suffix>` when the rule already names the Service a
//     K8S_PRIMARY_ROLLOUT with createService makes;
//   - the canary's and baseline's are `<service>-<suffix>`, the Services
//     K8S_CANARY_ROLLOUT and K8S_BASELINE_ROLLOUT make with createService
//     (suffixes as those stages of the pipeline set them, canary and
//     baseline by default).
//
// In every rule (or those trafficRouting.gatewayAPI.rules lists by index),
// backendRefs to other backends keep their weights, read as percentages as
// Istio's are, and the rest of 100 is split among the variants' backends
// as PipeCD splits it. A backend with weight 0 is left out rather than
// written, so a rule never names a variant Service that does not exist.
// Other fields of a variant backendRef (port, namespace) are kept from the
// rule's first backendRef to one of the variants' Services.
//
// For the primary's share to reach only primary pods, the application's
// Service must select the primary variant (pipecd.dev/variant: primary in
// its selector, as PipeCD's pod selector routing also requires), or the
// primary must have its own Service through createService.
func routeGatewayAPI(route *unstructured.Unstructured, objs []*unstructured.Unstructured, spec *config.KubernetesSpec, pipeline []config.PipelineStage, w weights) (*unstructured.Unstructured, []string, error) {
	svc, err := appService(objs, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("gatewayapi traffic routing: %w", err)
	}
	service := svc.GetName()
	primaryName := suffixed(service, stageSuffix(pipeline, StagePrimaryRollout, variantPrimary))
	canaryName := suffixed(service, stageSuffix(pipeline, StageCanaryRollout, variantCanary))
	baselineName := suffixed(service, stageSuffix(pipeline, StageBaselineRollout, variantBaseline))
	isService := func(ref map[string]any) bool {
		g, _ := ref["group"].(string)
		k, _ := ref["kind"].(string)
		return g == "" && (k == "" || k == "Service")
	}
	var only []int
	if gc := spec.TrafficRouting.GatewayAPI; gc != nil {
		only = gc.Rules
	}
	c := route.DeepCopy()
	rules, _, _ := unstructured.NestedSlice(c.Object, "spec", "rules")
	for _, i := range only {
		if i < 0 || i >= len(rules) {
			return nil, nil, fmt.Errorf("trafficRouting.gatewayAPI.rules names rule %d, but HTTPRoute %s has %d rules", i, c.GetName(), len(rules))
		}
	}
	var lines []string
	for i, r := range rules {
		if len(only) > 0 && !slices.Contains(only, i) {
			continue
		}
		rule, ok := r.(map[string]any)
		if !ok {
			continue
		}
		refs, _ := rule["backendRefs"].([]any)
		var others []any
		other := 0
		var template map[string]any
		primary := service
		for _, ref := range refs {
			rm, _ := ref.(map[string]any)
			name, _ := rm["name"].(string)
			if isService(rm) && (name == service || name == primaryName || name == canaryName || name == baselineName) {
				if template == nil {
					template = maps.Clone(rm)
				}
				if name == primaryName {
					primary = primaryName
				}
				continue
			}
			others = append(others, ref)
			if n, ok := number(rm["weight"]); ok {
				other += int(n)
			} else {
				other++ // Gateway API's default weight
			}
		}
		if template == nil {
			return nil, nil, fmt.Errorf("HTTPRoute %s rule %d has no backendRef to Service %s or its variants' Services; add one to say which port to route to", c.GetName(), i, service)
		}
		s := w.split(max(100-other, 0))
		out := make([]any, 0, len(others)+3)
		for _, v := range []struct {
			name   string
			weight int
		}{{primary, s.primary}, {canaryName, s.canary}, {baselineName, s.baseline}} {
			if v.weight == 0 {
				continue
			}
			ref := maps.Clone(template)
			ref["name"], ref["weight"] = v.name, int64(v.weight)
			out = append(out, ref)
		}
		rule["backendRefs"] = append(out, others...)
		rules[i] = rule
		lines = append(lines, fmt.Sprintf("HTTPRoute %s rule %d: %s %d, %s %d, %s %d", c.GetName(), i,
			primary, s.primary, canaryName, s.canary, baselineName, s.baseline))
	}
	if err := unstructured.SetNestedSlice(c.Object, rules, "spec", "rules"); err != nil {
		return nil, nil, err
	}
	return c, lines, nil
}

// stageSuffix returns the suffix option of the pipeline's first stage
// named stage that creates a Service, else def.
func stageSuffix(pipeline []config.PipelineStage, stage, def string) string {
	for i := range pipeline {
		if pipeline[i].Name != stage {
			continue
		}
		opts, err := pipeline[i].StageOptions()
		if err != nil {
			continue
		}
		var suffix string
		var create bool
		switch o := opts.(type) {
		case *config.K8sPrimaryRolloutOptions:
			suffix, create = o.Suffix, o.CreateService
		case *config.K8sCanaryRolloutOptions:
			suffix, create = o.Suffix, o.CreateService
		case *config.K8sBaselineRolloutOptions:
			suffix, create = o.Suffix, o.CreateService
		}
		if create && suffix != "" {
			return suffix
		}
	}
	return def
}

// routeObject returns the object to apply to route traffic by w with the
// application's method, and log lines saying what it sets. objs are the
// rendered manifests of the commit whose routing object is edited.
func routeObject(objs []*unstructured.Unstructured, spec *config.KubernetesSpec, pipeline []config.PipelineStage, w weights) (*unstructured.Unstructured, []string, error) {
	method, err := routingMethod(spec)
	if err != nil {
		return nil, nil, err
	}
	switch method {
	case routingPodSelector:
		obj, line, err := routePodSelector(objs, spec, w)
		return obj, []string{line}, err
	case routingIstio:
		vs, err := routingObject(objs, spec, method)
		if err != nil {
			return nil, nil, err
		}
		return routeIstio(vs, spec, w)
	case routingSMI:
		split, err := routingObject(objs, spec, method)
		if err != nil {
			return nil, nil, err
		}
		return routeSMI(split, objs, spec, pipeline, w)
	default:
		route, err := routingObject(objs, spec, method)
		if err != nil {
			return nil, nil, err
		}
		return routeGatewayAPI(route, objs, spec, pipeline, w)
	}
}
