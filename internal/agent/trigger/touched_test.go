package trigger

import "testing"

func TestTouched(t *testing.T) {
	for _, tc := range []struct {
		name           string
		dir            string
		paths, ignores []string
		changed        []string
		want           bool
	}{
		{"a change under the app directory touches it", "apps/web", nil, nil, []string{"apps/web/deployment.yaml"}, true},
		{"a change elsewhere does not", "apps/web", nil, nil, []string{"apps/api/deployment.yaml", "README.md"}, false},
		{"a sibling with the same prefix does not", "apps/web", nil, nil, []string{"apps/webshop/x.yaml"}, false},
		{"a matching paths glob touches it", "apps/web", []string{"config/**"}, nil, []string{"config/prod/values.yaml"}, true},
		{"a paths directory touches it", "apps/web", []string{"shared/"}, nil, []string{"shared/base/kustomization.yaml"}, true},
		{"an ignores match vetoes the whole commit", "apps/web", nil, []string{"**/*.md"}, []string{"apps/web/deployment.yaml", "apps/web/README.md"}, false},
		{"ignores that match nothing change nothing", "apps/web", nil, []string{"docs/**"}, []string{"apps/web/deployment.yaml"}, true},
		{"an app at the repository root is touched by anything", "", nil, nil, []string{"deployment.yaml"}, true},
		{"no changed files touch nothing", "apps/web", nil, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Touched(tc.dir, tc.paths, tc.ignores, tc.changed); got != tc.want {
				t.Errorf("Touched(%q, %v, %v, %v) = %v, want %v", tc.dir, tc.paths, tc.ignores, tc.changed, got, tc.want)
			}
		})
	}
}
