package kubernetes

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
)

// smiGroup is the API group of SMI's TrafficSplit.
const smiGroup = "split.smi-spec.io"

// routeSMI returns a copy of the TrafficSplit with the weights set, for
// trafficRouting.method smi. A TrafficSplit splits the traffic to its root
// Service (spec.service) among backend Services, so the variants are
// Services as in Gateway API routing (see routeGatewayAPI):
//
//   - the primary's backend is the application's Service (spec.service.name,
//     or the manifests' only Service), or `<service>-<suffix>` when the
//     split already names the Service a K8S_PRIMARY_ROLLOUT with
//     createService makes;
//   - the canary's and baseline's are `<service>-<suffix>`, the Services
//     K8S_CANARY_ROLLOUT and K8S_BASELINE_ROLLOUT make with createService.
//
// Backends to other Services keep their weights, read as percentages, and
// the rest of 100 is split among the variants as PipeCD splits it. A
// variant with weight 0 is left out, so the split never names a Service
// that does not exist. spec.service is set to the application's Service
// when the manifests leave it empty. v1alpha1 TrafficSplits, whose weights
// are quantities, are refused: the mesh implementations read v1alpha2 on.
func routeSMI(split *unstructured.Unstructured, objs []*unstructured.Unstructured, spec *config.KubernetesSpec, pipeline []config.PipelineStage, w weights) (*unstructured.Unstructured, []string, error) {
	if strings.HasSuffix(split.GetAPIVersion(), "/v1alpha1") {
		return nil, nil, fmt.Errorf("TrafficSplit %s is %s, whose weights are quantities; write it as %s/v1alpha2 or later", split.GetName(), split.GetAPIVersion(), smiGroup)
	}
	svc, err := appService(objs, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("smi traffic routing: %w", err)
	}
	service := svc.GetName()
	primaryName := suffixed(service, stageSuffix(pipeline, StagePrimaryRollout, variantPrimary))
	canaryName := suffixed(service, stageSuffix(pipeline, StageCanaryRollout, variantCanary))
	baselineName := suffixed(service, stageSuffix(pipeline, StageBaselineRollout, variantBaseline))
	c := split.DeepCopy()
	if root, _, _ := unstructured.NestedString(c.Object, "spec", "service"); root == "" {
		if err := unstructured.SetNestedField(c.Object, service, "spec", "service"); err != nil {
			return nil, nil, err
		}
	}
	backends, _, _ := unstructured.NestedSlice(c.Object, "spec", "backends")
	var others []any
	other := 0
	primary := service
	for _, b := range backends {
		bm, _ := b.(map[string]any)
		name, _ := bm["service"].(string)
		switch name {
		case primaryName:
			primary = primaryName
			continue
		case service, canaryName, baselineName:
			continue
		}
		others = append(others, b)
		if n, ok := number(bm["weight"]); ok {
			other += int(n)
		}
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
		out = append(out, map[string]any{"service": v.name, "weight": int64(v.weight)})
	}
	out = append(out, others...)
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("TrafficSplit %s would have no backend: its other backends take all the weight and the variants none", c.GetName())
	}
	if err := unstructured.SetNestedSlice(c.Object, out, "spec", "backends"); err != nil {
		return nil, nil, err
	}
	line := fmt.Sprintf("TrafficSplit %s: %s %d, %s %d, %s %d", c.GetName(), primary, s.primary, canaryName, s.canary, baselineName, s.baseline)
	return c, []string{line}, nil
}
