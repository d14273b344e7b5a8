package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// workloadKinds are the kinds whose health depends on pods selected by
// spec.selector.
var workloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "Job": true,
}

// podReason explains why a workload is not healthy from its pods: the first
// pod, newest first, that cannot be scheduled, has a container that cannot
// start or keeps failing, or is not ready. It returns "" for other kinds,
// when the pods look fine, or when they cannot be read: the explanation is
// a courtesy and never hides the health error itself.
func (a *Applier) podReason(ctx context.Context, workload *unstructured.Unstructured) string {
	if !workloadKinds[workload.GetKind()] || !builtinGroup(workload.GroupVersionKind().Group) {
		return ""
	}
	raw, found, _ := unstructured.NestedMap(workload.Object, "spec", "selector")
	if !found {
		return ""
	}
	var ls metav1.LabelSelector
	if runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls) != nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return ""
	}
	pods, err := a.clientset.CoreV1().Pods(workload.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ""
	}
	slices.SortFunc(pods.Items, func(x, y corev1.Pod) int {
		return y.CreationTimestamp.Compare(x.CreationTimestamp.Time)
	})
	for i := range pods.Items {
		if why := podProblem(&pods.Items[i]); why != "" {
			return "pod " + pods.Items[i].Name + ": " + why
		}
	}
	return ""
}

// podProblem says what keeps pod from being ready, or "" if it is ready or
// on its way out.
func podProblem(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded {
		return ""
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return joinReason(c.Reason, c.Message)
		}
	}
	statuses := append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			return fmt.Sprintf("container %s: %s", cs.Name, joinReason(w.Reason, w.Message))
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("container %s: %s (exit code %d)", cs.Name, joinReason(t.Reason, t.Message), t.ExitCode)
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		return joinReason("Failed", pod.Status.Message)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse {
			return joinReason("NotReady", strings.TrimSpace(c.Reason+" "+c.Message))
		}
	}
	return ""
}

// joinReason formats a reason and its message as "Reason: message".
func joinReason(reason, msg string) string {
	switch {
	case msg == "":
		return reason
	case reason == "":
		return msg
	}
	return reason + ": " + msg
}
