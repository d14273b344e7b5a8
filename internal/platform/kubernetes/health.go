package kubernetes

import (
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/model"
)

// Health judges one live object with kstatus, the rules Flux and kubectl's
// `wait --for` share: built-in workloads by their rollout fields, other
// objects by their Ready/Reconciling/Stalled conditions, objects without
// status as healthy. It returns the status and kstatus's one-line reason
// ("Deployment does not have minimum availability"). It never blocks.
//
//   - Current: HEALTHY
//   - InProgress, Terminating: PROGRESSING
//   - Failed: UNHEALTHY
//   - anything else, or a status kstatus cannot compute: UNKNOWN
func Health(obj *unstructured.Unstructured) (model.HealthStatus, string) {
	res, err := status.Compute(obj)
	if err != nil {
		return model.HealthUnknown, err.Error()
	}
	return healthOf(res.Status), res.Message
}

// healthOf maps a kstatus status to Ferry's health.
func healthOf(s status.Status) model.HealthStatus {
	switch s {
	case status.CurrentStatus:
		return model.HealthHealthy
	case status.InProgressStatus, status.TerminatingStatus:
		return model.HealthProgress
	case status.FailedStatus:
		return model.HealthUnhealthy
	default:
		return model.HealthUnknown
	}
}
