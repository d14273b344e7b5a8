// Package kubernetes holds the building blocks of Ferry's Kubernetes
// platform provider: rendering an application's desired state from Git
// (plain manifests, Kustomize or Helm, all in-process), applying it with
// server-side apply under the field manager "ferry", pruning what the
// application no longer declares, and judging health with kstatus.
//
// The pieces are independent so the K8S_SYNC stage, drift detection and
// live state can each take what they need:
//
//   - Render turns a checked-out application directory into objects.
//   - Applier applies objects to one cluster, in dependency order, and
//     prunes the application's objects that are gone from Git.
//   - Applier.WaitHealthy blocks until applied objects are Current.
//   - Health judges one live object for live state.
//
// Ownership is recorded on every applied object with the labels and
// annotations defined in labels.go; prune only ever deletes objects that
// carry this application's labels.
//
// The progressive delivery stages follow PipeCD's (stages.go): the
// primary is the application's workloads as Git has them, their pods
// labelled with the variant label (pipecd.dev/variant by default); a
// canary or baseline is a copy of the workloads, and of the ConfigMaps and
// Secrets they use, named `<name>-<suffix>` and labelled with the variant
// (variant.go), found again by that label to be deleted (clean.go);
// traffic moves by the Service's selector, an Istio VirtualService's
// weights or a Gateway API HTTPRoute's (traffic.go). Provider also decides
// between quick sync and the pipeline from what a commit changes
// (strategy.go).
package kubernetes
