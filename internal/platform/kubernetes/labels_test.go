package kubernetes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestResourceKeyRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		key  ResourceKey
		text string
	}{
		{"a namespaced object of a named group", ResourceKey{"apps", "Deployment", "web", "frontend"}, "apps:Deployment:web:frontend"},
		{"a core object has an empty group", ResourceKey{"", "ConfigMap", "web", "settings"}, ":ConfigMap:web:settings"},
		{"a cluster-scoped object has an empty namespace", ResourceKey{"", "Namespace", "", "web"}, ":Namespace::web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.String(); got != tt.text {
				t.Errorf("String = %q, want %q", got, tt.text)
			}
			got, err := ParseResourceKey(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.key, got); diff != "" {
				t.Errorf("ParseResourceKey (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "apps:Deployment:web", "apps::web:frontend", "apps:Deployment:web:"} {
		if _, err := ParseResourceKey(bad); err == nil {
			t.Errorf("ParseResourceKey(%q) succeeded, want an error", bad)
		}
	}
}

func TestOwnedNeedsTheKeyAnnotationNotJustLabels(t *testing.T) {
	applied := configMap("settings")
	applied.SetNamespace("web")
	setOwnership(applied, "app-1", "abc")
	copied := configMap("copy")
	copied.SetNamespace("web")
	copied.SetLabels(applied.GetLabels()) // as a controller copies a Service's labels to its Endpoints
	tests := []struct {
		name  string
		obj   *unstructured.Unstructured
		appID string
		want  bool
	}{
		{"an object Ferry applied for the app is owned", applied, "app-1", true},
		{"it is not owned by another app", applied, "app-2", false},
		{"an object that only has a copy of the labels is not owned", copied, "app-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := owned(tt.obj, tt.appID, false); got != tt.want {
				t.Errorf("owned = %v, want %v", got, tt.want)
			}
		})
	}
}
