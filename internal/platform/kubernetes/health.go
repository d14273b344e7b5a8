package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

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

// How often WaitHealthy looks at the objects it waits for: in the
// provider's informers (free), and at most how often it reads one from
// the API server when the informers do not hold it.
const (
	waitInterval = 20 * time.Millisecond
	readInterval = 100 * time.Millisecond
)

// UnhealthyError says which object WaitHealthy gave up on and why.
type UnhealthyError struct {
	// Object names the first object that was not healthy, as describe does
	// ("apps/v1/Deployment web/frontend").
	Object string
	// Key is the same object's key.
	Key ResourceKey
	// Status is kstatus's: Failed, or what the object was when time ran out.
	Status string
	// Reason is kstatus's message for the object.
	Reason string
	// PodReason, for workloads, is why one of their pods is not ready
	// ("pod web-5d9c-x2x: Unschedulable: 0/1 nodes are available: ...").
	PodReason string
	// Timeout is true when the wait ran out of time rather than the object
	// failing.
	Timeout bool
}

// Error reads as one sentence for a stage log.
func (e *UnhealthyError) Error() string {
	msg := e.Object + " is " + e.Status
	if e.Timeout {
		msg = e.Object + " is still " + e.Status + " at the timeout"
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.PodReason != "" {
		msg += "; " + e.PodReason
	}
	return msg
}

// currentLinesMax is how many objects Current at once WaitHealthy reports
// one by one.
const currentLinesMax = 20

// WaitHealthy blocks until every object in objs is Current by kstatus (see
// Health), polling the API server, or until one is Failed, timeout passes
// (0 means no timeout of its own) or ctx ends. objs need only identify the
// objects (ApplyResult.Objects do); they are not modified.
//
// A Failed object or the timeout gives an *UnhealthyError naming the first
// unhealthy object, with the reason from its pods for workloads; ctx's end
// gives ctx's error. progress, if set, receives a line whenever an object's
// status message changes, and one when it becomes Current (one line for
// all when more than currentLinesMax are Current at once).
func (a *Applier) WaitHealthy(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration, progress func(string)) error {
	parent := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	report := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	// The objects Apply returned carry their live state: those already
	// Current (most kinds, at once) need no read; only the rest are polled.
	var pending []*unstructured.Unstructured
	var current []string
	for _, obj := range objs {
		if res, err := status.Compute(obj); err == nil && res.Status == status.CurrentStatus {
			current = append(current, describe(obj))
			continue
		}
		pending = append(pending, obj)
	}
	// A line per object for a few; for many, one line says it all.
	if len(current) <= currentLinesMax {
		for _, c := range current {
			report("%s is Current", c)
		}
	} else {
		report("%d objects are Current: %s and %d more", len(current), strings.Join(current[:currentLinesMax/2], ", "), len(current)-currentLinesMax/2)
	}
	if len(pending) == 0 {
		return nil
	}
	type seen struct {
		err  *UnhealthyError
		live *unstructured.Unstructured
	}
	state := map[ResourceKey]seen{} // what each pending object last was
	lastRead := map[ResourceKey]time.Time{}
	err := wait.PollUntilContextCancel(ctx, waitInterval, true, func(ctx context.Context) (bool, error) {
		next := pending[:0]
		for _, obj := range pending {
			key := KeyOf(obj)
			st, msg, live, err := a.status(ctx, obj, lastRead)
			if st == "" && err == nil && msg == "" {
				next = append(next, obj) // not looked at this time
				continue
			}
			switch {
			case err != nil:
				return false, err
			case st == "":
				// A failed read: keep what the object last was, so a read
				// cut short by the timeout does not hide the real reason.
				if _, ok := state[key]; !ok {
					state[key] = seen{err: &UnhealthyError{Object: describe(obj), Key: key, Status: string(status.UnknownStatus), Reason: msg}}
				}
				next = append(next, obj)
				continue
			case st == status.CurrentStatus:
				report("%s is Current", describe(obj))
				delete(state, key)
				continue
			}
			if prev, ok := state[key]; !ok || prev.err.Status != string(st) || prev.err.Reason != msg {
				report("waiting for %s: %s: %s", describe(obj), st, msg)
			}
			state[key] = seen{err: &UnhealthyError{Object: describe(obj), Key: key, Status: string(st), Reason: msg}, live: live}
			if st == status.FailedStatus {
				return true, state[key].err
			}
			next = append(next, obj)
		}
		pending = next
		return len(pending) == 0, nil
	})
	var first seen
	if len(pending) > 0 {
		first = state[KeyOf(pending[0])]
	}
	var ue *UnhealthyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
	case first.err != nil && parent.Err() == nil && ctx.Err() != nil:
		ue = first.err
		ue.Timeout = true
	default:
		return fmt.Errorf("wait healthy: %w", err)
	}
	if live := state[ue.Key].live; live != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
		defer cancel()
		ue.PodReason = a.podReason(dctx, live)
	}
	return ue
}

// status reads obj and computes its kstatus. An object that is not there
// (yet, or any more) is NotFound; a failed read gives an empty status and
// the error as message, to be retried at the next poll. Only a kind the
// cluster does not serve is an error.
//
// The provider's informers are read when they hold the object at obj's
// generation or later (an older copy predates the apply): hundreds of
// rollouts waited for at once then cost the API server nothing. Else the
// API server is read, at most every readInterval per object (lastRead);
// between two reads status returns all empty.
func (a *Applier) status(ctx context.Context, obj *unstructured.Unstructured, lastRead map[ResourceKey]time.Time) (status.Status, string, *unstructured.Unstructured, error) {
	m, err := a.mapping(ctx, obj.GroupVersionKind(), false)
	if err != nil {
		return "", "", nil, fmt.Errorf("read %s: %w", describe(obj), err)
	}
	if cached, ok := a.live.lookup(m.Resource, obj.GetNamespace(), obj.GetName()); ok && cached.GetUID() == obj.GetUID() && cached.GetGeneration() >= obj.GetGeneration() {
		res, err := status.Compute(cached)
		if err != nil {
			return status.UnknownStatus, err.Error(), cached, nil
		}
		return res.Status, res.Message, cached, nil
	}
	key := KeyOf(obj)
	if t, ok := lastRead[key]; ok && time.Since(t) < readInterval {
		return "", "", nil, nil
	}
	lastRead[key] = time.Now()
	live, err := a.resource(m, obj.GetNamespace()).Get(ctx, obj.GetName(), getOptions)
	switch {
	case apierrors.IsNotFound(err):
		return status.NotFoundStatus, "not found", nil, nil
	case err != nil:
		return "", err.Error(), nil, nil
	}
	res, err := status.Compute(live)
	if err != nil {
		return status.UnknownStatus, err.Error(), live, nil
	}
	return res.Status, res.Message, live, nil
}
