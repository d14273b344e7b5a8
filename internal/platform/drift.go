package platform

import (
	"fmt"
	"strings"
)

// Drift is how an application's live state differs from its desired state:
// the resources out of sync, in a stable order. An empty Drift is in sync.
type Drift struct {
	Resources []ResourceDrift
}

// ResourceDrift is one resource that is not as the desired state says.
type ResourceDrift struct {
	// Name names the resource the way people read it, for Kubernetes
	// "apps/v1 Deployment web/frontend" (namespace/name, or the name alone
	// for cluster-scoped objects).
	Name string
	// State says how the resource is out of sync.
	State DriftState
	// Fields lists the differing fields when State is DriftChanged.
	Fields []FieldDrift
}

// DriftState says how a resource is out of sync.
type DriftState string

// The drift states.
const (
	// DriftChanged: the resource runs with different field values.
	DriftChanged DriftState = "changed"
	// DriftMissing: the desired state has the resource; it does not run.
	DriftMissing DriftState = "missing"
	// DriftNotInGit: the resource runs as the application's, the desired
	// state does not have it, and the next deployment would delete it
	// (prune). Leftovers a deployment would keep are not drift.
	DriftNotInGit DriftState = "not in Git"
)

// FieldDrift is one field whose live value is not the desired one. Values
// are formatted for people: scalars as written, strings unquoted unless
// empty or padded, maps and lists as compact JSON.
type FieldDrift struct {
	// Path is the field's path, for Kubernetes the form
	// driftDetection.ignoreFields takes: "spec.replicas",
	// "spec.template.spec.containers.0.image".
	Path string
	// Desired is the value Git wants; empty when InDesired is false.
	Desired string
	// Live is the running value; empty when InLive is false.
	Live string
	// InDesired and InLive say which sides have the field: a field only
	// Git has was removed out of band, one only live has was added.
	InDesired, InLive bool
}

// InSync reports whether nothing drifted.
func (d *Drift) InSync() bool { return d == nil || len(d.Resources) == 0 }

// String is the readable diff shown as the sync state's reason, from Git to
// live: a header per resource, then a line per field.
//
//	apps/v1 Deployment web/frontend
//	  spec.replicas: 2 → 5
//	  - spec.template.spec.containers.0.args: ["--debug"]
//	  + metadata.labels.team: blue
//	v1 ConfigMap web/settings
//	  missing
//
// "- path: value" is a field Git sets that live lacks, "+ path: value" a
// field live has that Git would remove.
func (d *Drift) String() string {
	if d.InSync() {
		return ""
	}
	var b strings.Builder
	for _, r := range d.Resources {
		b.WriteString(r.Name)
		b.WriteByte('\n')
		if r.State != DriftChanged {
			b.WriteString("  " + string(r.State) + "\n")
			continue
		}
		for _, f := range r.Fields {
			switch {
			case f.InDesired && f.InLive:
				fmt.Fprintf(&b, "  %s: %s → %s\n", f.Path, f.Desired, f.Live)
			case f.InDesired:
				fmt.Fprintf(&b, "  - %s: %s\n", f.Path, f.Desired)
			default:
				fmt.Fprintf(&b, "  + %s: %s\n", f.Path, f.Live)
			}
		}
	}
	return b.String()
}

// Summary is the sync state's short reason: how many resources drifted and
// the first few by name, e.g. "2 resources out of sync: apps/v1 Deployment
// web/frontend (1 field), v1 ConfigMap web/settings (missing)".
func (d *Drift) Summary() string {
	if d.InSync() {
		return ""
	}
	const shown = 3
	parts := make([]string, 0, shown+1)
	for i, r := range d.Resources {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(d.Resources)-shown))
			break
		}
		what := string(r.State)
		if r.State == DriftChanged {
			what = plural(len(r.Fields), "field")
		}
		parts = append(parts, r.Name+" ("+what+")")
	}
	return plural(len(d.Resources), "resource") + " out of sync: " + strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
