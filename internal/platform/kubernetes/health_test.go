package kubernetes

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/model"
)

// object decodes a YAML object for a test.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	objs, err := parseManifests("test", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return objs[0]
}

func TestHealth(t *testing.T) {
	const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 2}
`
	tests := []struct {
		name string
		obj  string
		want model.HealthStatus
	}{{
		name: "a ConfigMap is healthy as soon as it exists",
		obj:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
		want: model.HealthHealthy,
	}, {
		name: "a rolled out Deployment is healthy",
		obj: deployment + `status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
  conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}`,
		want: model.HealthHealthy,
	}, {
		name: "a Deployment the controller has not seen yet is progressing",
		obj:  deployment + "status: {observedGeneration: 1}",
		want: model.HealthProgress,
	}, {
		name: "a Deployment past its progress deadline is unhealthy",
		obj: deployment + `status: {observedGeneration: 2, replicas: 2, updatedReplicas: 1,
  conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}`,
		want: model.HealthUnhealthy,
	}, {
		name: "a custom resource that says it is stalled is unhealthy",
		obj: `apiVersion: example.com/v1
kind: Widget
metadata: {name: w, generation: 1}
status: {observedGeneration: 1, conditions: [{type: Stalled, status: "True", reason: Broken, message: it broke}]}`,
		want: model.HealthUnhealthy,
	}, {
		name: "a pending Pod is progressing",
		obj:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Pending}\n",
		want: model.HealthProgress,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Health(object(t, tt.obj))
			if got != tt.want {
				t.Errorf("Health = %s (%s), want %s", got, reason, tt.want)
			}
		})
	}
}
