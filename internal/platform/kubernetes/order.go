package kubernetes

import "k8s.io/apimachinery/pkg/runtime/schema"

// applyOrder is the order kinds are applied in, after Helm's install order:
// namespaces and CRDs first, since other objects live in them; then policy,
// identity and configuration, which workloads read when they start; then
// workloads, and last the webhooks and API services that could otherwise
// intercept the apply of everything else while their backends are not up.
// Kinds not listed (custom resources) come after the listed ones but before
// the webhooks.
var applyOrder = []string{
	"Namespace",
	"CustomResourceDefinition",
	"PriorityClass",
	"NetworkPolicy",
	"ResourceQuota",
	"LimitRange",
	"PodDisruptionBudget",
	"ServiceAccount",
	"Secret",
	"ConfigMap",
	"StorageClass",
	"PersistentVolume",
	"PersistentVolumeClaim",
	"ClusterRole",
	"ClusterRoleBinding",
	"Role",
	"RoleBinding",
	"Service",
	"DaemonSet",
	"Pod",
	"ReplicationController",
	"ReplicaSet",
	"Deployment",
	"HorizontalPodAutoscaler",
	"StatefulSet",
	"Job",
	"CronJob",
	"IngressClass",
	"Ingress",
	"", // custom resources and kinds not listed
	"APIService",
	"MutatingWebhookConfiguration",
	"ValidatingWebhookConfiguration",
}

// rankOf maps a kind to its index in applyOrder.
var rankOf = func() map[string]int {
	m := make(map[string]int, len(applyOrder))
	for i, k := range applyOrder {
		m[k] = i
	}
	return m
}()

// applyRank returns gk's place in the apply order; lower goes first. Only
// built-in groups are ranked by kind, so a custom resource that happens to
// be called Service is ordered with the other custom resources.
func applyRank(gk schema.GroupKind) int {
	if r, ok := rankOf[gk.Kind]; ok && builtinGroup(gk.Group) {
		return r
	}
	return rankOf[""]
}

// builtinGroup reports whether group is one of Kubernetes' own: the core
// group, the unqualified legacy groups, or a *.k8s.io group.
func builtinGroup(group string) bool {
	switch group {
	case "", "apps", "batch", "policy", "autoscaling":
		return true
	}
	const suffix = ".k8s.io"
	return len(group) > len(suffix) && group[len(group)-len(suffix):] == suffix
}
