package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor/direct"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/apply"
)

// ApplyOptions tune one Apply.
type ApplyOptions struct {
	// AppID is the owning application's id, the value of LabelApplication.
	// Required.
	AppID string
	// Commit is the Git commit the objects were rendered from, recorded in
	// AnnotationCommit.
	Commit string
	// Namespace is input.namespace: as in PipeCD it overrides the namespace
	// of every namespaced object. Empty keeps the manifests' namespaces and
	// puts objects without one in "default".
	Namespace string
	// AutoCreateNamespace creates Namespace when it does not exist. The
	// namespace is not labelled as the application's, so it is never pruned.
	AutoCreateNamespace bool
	// Prune deletes the application's objects that are not in this apply.
	Prune bool
	// PruneKinds lists the kinds among Namespace and CustomResourceDefinition
	// that prune may delete. They are kept by default because deleting one
	// deletes everything in it: every object in the namespace, every custom
	// resource of the CRD, whoever owns them.
	PruneKinds []schema.GroupKind
	// AdoptPipeCD makes prune also treat objects labelled by PipeCD's piped
	// for an application with the same id as this application's, for
	// applications migrated from PipeCD with their ids.
	AdoptPipeCD bool
	// PruneKeep, if set, keeps from prune the objects it reports true for:
	// a primary rollout keeps the canary and baseline variants, which are
	// the application's but not in Git.
	PruneKeep func(obj *unstructured.Unstructured) bool
	// Log, if set, receives a line per object applied or pruned.
	Log func(msg string)
}

// ApplyResult says what an Apply did.
type ApplyResult struct {
	// Applied lists the keys of the objects sent to the API server, in
	// apply order; objects left alone (unchanged since this Applier last
	// applied them) are not among them.
	Applied []ResourceKey
	// Pruned lists the deleted objects' keys.
	Pruned []ResourceKey
	// Objects are every object of the apply, left alone or not, as the
	// API server returned them or the informers hold them, in apply order:
	// what WaitHealthy should wait for. Do not modify them.
	Objects []*unstructured.Unstructured
}

// getOptions reads objects; a variable so calls do not allocate.
var getOptions = metav1.GetOptions{}

// Apply applies objs with server-side apply as field manager "ferry",
// taking over conflicting fields (kubectl apply --server-side
// --force-conflicts). Namespaces go first, then CRDs, each waited for
// until Established, then the rest in a stable dependency order (config
// before workloads, webhooks last). Every object gets the ownership labels
// and annotations of labels.go. objs are not modified.
//
// Apply stops at the first object that fails and returns the result so far
// with an error naming the object; with opts.Prune it then prunes, after
// every object applied. It blocks on the API server and honours ctx.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ApplyResult, error) {
	if opts.AppID == "" {
		return nil, errors.New("apply: an application id is required")
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			opts.Log(fmt.Sprintf(format, args...))
		}
	}
	if opts.AutoCreateNamespace && opts.Namespace != "" {
		if _, known := a.namespaces.Load(opts.Namespace); !known {
			if err := a.createNamespace(ctx, opts.Namespace, logf); err != nil {
				return nil, err
			}
			a.namespaces.Store(opts.Namespace, true)
		}
	}
	ordered := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		ordered[i] = o.DeepCopy()
	}
	slices.SortStableFunc(ordered, func(x, y *unstructured.Unstructured) int {
		return applyRank(x.GroupVersionKind().GroupKind()) - applyRank(y.GroupVersionKind().GroupKind())
	})
	// What this apply changes or prunes makes the shared scan for objects
	// not in Git out of date.
	defer a.owned.invalidate()
	res := &ApplyResult{}
	skipped := 0
	seen := map[ResourceKey]bool{}
	crdKinds := map[schema.GroupKind]bool{} // kinds defined by CRDs in this apply
	// Objects of one rank do not depend on each other: they are applied
	// concurrently, ranks one after the other, results in order.
	for start := 0; start < len(ordered); {
		rank := applyRank(ordered[start].GroupVersionKind().GroupKind())
		end := start
		for end < len(ordered) && applyRank(ordered[end].GroupVersionKind().GroupKind()) == rank {
			end++
		}
		group := ordered[start:end]
		start = end
		maps := make([]*meta.RESTMapping, len(group))
		for i, obj := range group {
			gvk := obj.GroupVersionKind()
			m, err := a.mapping(ctx, gvk, crdKinds[gvk.GroupKind()])
			if err != nil {
				return res, fmt.Errorf("apply %s: %w", describe(obj), err)
			}
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				switch {
				case opts.Namespace != "":
					obj.SetNamespace(opts.Namespace)
				case obj.GetNamespace() == "":
					obj.SetNamespace(corev1.NamespaceDefault)
				}
			} else {
				obj.SetNamespace("")
			}
			key := KeyOf(obj)
			if seen[key] {
				return res, fmt.Errorf("apply %s: the manifests declare it twice; remove one", describe(obj))
			}
			seen[key] = true
			setOwnership(obj, opts.AppID, opts.Commit)
			maps[i] = m
			a.live.watch(m.Resource)
		}
		lives, verbs, err := a.applyGroup(ctx, maps, group)
		for i, obj := range group {
			if lives[i] == nil {
				continue
			}
			if verbs[i] == verbSkipped {
				skipped++
			} else {
				logf("applied %s (%s)", describe(obj), verbs[i])
				res.Applied = append(res.Applied, KeyOf(obj))
			}
			res.Objects = append(res.Objects, lives[i])
		}
		if err != nil {
			// The namespace may have gone since it was created: make sure
			// of it on the next apply.
			a.namespaces.Delete(opts.Namespace)
			return res, err
		}
		for i, obj := range group {
			if obj.GroupVersionKind().GroupKind() == crdGroupKind {
				gk, err := a.waitEstablished(ctx, lives[i])
				if err != nil {
					return res, fmt.Errorf("apply %s: %w", describe(obj), err)
				}
				crdKinds[gk] = true
			}
		}
	}
	if skipped > 0 {
		logf("left %d objects alone: unchanged in Git and in the cluster since they were last applied", skipped)
	}
	if opts.Prune {
		pruned, err := a.prune(ctx, seen, opts, logf)
		res.Pruned = pruned
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// Verbs of an object's apply, as logged.
const (
	verbCreated    = "created"
	verbConfigured = "configured"
	verbUnchanged  = "unchanged"
	// verbSkipped: not sent, as it would change nothing (see applyOne).
	verbSkipped = "skipped"
)

// applyOne applies obj and says whether it was created, configured or left
// unchanged (server-side apply neither writes nor bumps resourceVersion
// when nothing changes), or skipped. An object is skipped, not sent, when
// its manifest is the one this Applier last applied to it (so no field is
// to be dropped) and the live copy in the provider's informers still has
// every field of it with the same value (so nothing was edited in the
// cluster): a commit changing one object of a thousand costs about one
// apply, and a sync after an edit in the cluster restores what was edited.
// It makes one request, two for an object applied before that the
// informers do not watch.
func (a *Applier) applyOne(ctx context.Context, m *meta.RESTMapping, obj *unstructured.Unstructured) (*unstructured.Unstructured, string, error) {
	key := KeyOf(obj)
	hash, err := manifestHash(obj)
	if err != nil {
		return nil, "", err
	}
	prev, known := a.applied.Load(key)
	known = known && prev.([sha256.Size]byte) == hash
	// The resourceVersion before, to tell configured from unchanged: the
	// informers' copy, or, for an object applied before that the
	// informers do not watch, a read (a controller may have written its
	// status since). Only an object whose manifest is unchanged needs its
	// whole live copy decoded, to see whether it can be skipped.
	var before string
	if !known {
		before, _ = a.live.resourceVersion(m.Resource, obj.GetNamespace(), obj.GetName())
	} else if cached, inCache := a.live.lookup(m.Resource, obj.GetNamespace(), obj.GetName()); inCache {
		if holds(cached.Object, obj.Object, true) {
			return cached, verbSkipped, nil
		}
		before = cached.GetResourceVersion()
	} else {
		cur, err := a.resource(m, obj.GetNamespace()).Get(ctx, obj.GetName(), getOptions)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, "", err
		}
		if err == nil {
			before = cur.GetResourceVersion()
		}
	}
	live, created, err := a.apply(ctx, m, obj)
	if err != nil {
		a.applied.Delete(key)
		if apierrors.IsNotFound(err) {
			// The resource itself may be gone (its CRD deleted): ask
			// discovery again next time.
			a.mappings.Delete(obj.GroupVersionKind())
		}
		return nil, "", err
	}
	a.applied.Store(key, hash)
	switch {
	case created:
		return live, verbCreated, nil
	case before == live.GetResourceVersion():
		return live, verbUnchanged, nil
	default:
		return live, verbConfigured, nil
	}
}

// holds reports whether live has every field of want with the same value
// (lists item by item, of the same length), metadata's commit annotation
// aside when top. Numbers compare by value. Fields only live has
// (defaults, status, other managers' fields) do not matter.
func holds(live, want any, top bool) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if top && k == "metadata" {
				if !holdsMetadata(l[k], wv) {
					return false
				}
				continue
			}
			lv, ok := l[k]
			if !ok || !holds(lv, wv, false) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !holds(l[i], w[i], false) {
				return false
			}
		}
		return true
	case int64, int, int32, float64, float32:
		lf, lok := number(live)
		wf, _ := number(want)
		return lok && lf == wf
	default:
		return live == want
	}
}

// holdsMetadata is holds for metadata, where the commit annotation may
// differ.
func holdsMetadata(live, want any) bool {
	w, ok := want.(map[string]any)
	if !ok {
		return holds(live, want, false)
	}
	ann, _ := w["annotations"].(map[string]any)
	if _, has := ann[AnnotationCommit]; !has {
		return holds(live, want, false)
	}
	trimmed := maps.Clone(w)
	ann = maps.Clone(ann)
	delete(ann, AnnotationCommit)
	trimmed["annotations"] = ann
	return holds(live, trimmed, false)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}

// apply sends obj as a server-side apply, as field manager "ferry" taking
// over conflicts, and says whether the API server created it (201).
func (a *Applier) apply(ctx context.Context, m *meta.RESTMapping, obj *unstructured.Unstructured) (*unstructured.Unstructured, bool, error) {
	req, err := apply.NewRequest(a.rest, obj.Object)
	if err != nil {
		return nil, false, err
	}
	path := []string{"apis", m.Resource.Group, m.Resource.Version}
	if m.Resource.Group == "" {
		path = []string{"api", m.Resource.Version}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		path = append(path, "namespaces", obj.GetNamespace())
	}
	path = append(path, m.Resource.Resource, obj.GetName())
	req = req.AbsPath(path...).Param("fieldManager", FieldManager).Param("force", "true")
	statusless := statuslessKinds[m.GroupVersionKind.GroupKind()]
	if statusless {
		req = req.SetHeader("Accept", partialMetadataJSON)
	}
	res := req.Do(ctx)
	// Error decodes a refusal's Status (Raw alone would leave it as
	// "an error on the server (\"unknown\")").
	if err := res.Error(); err != nil {
		return nil, false, explainAPIError(obj, err)
	}
	var code int
	res.StatusCode(&code)
	if !statusless {
		live := &unstructured.Unstructured{}
		if err := res.Into(live); err != nil {
			return nil, false, err
		}
		return live, code == http.StatusCreated, nil
	}
	raw, err := res.Raw()
	if err != nil {
		return nil, false, err
	}
	var pom metav1.PartialObjectMetadata
	if err := json.Unmarshal(raw, &pom); err != nil {
		return nil, false, fmt.Errorf("apply %s: decode the answer: %w", describe(obj), err)
	}
	live := &unstructured.Unstructured{Object: map[string]any{}}
	live.SetAPIVersion(obj.GetAPIVersion())
	live.SetKind(obj.GetKind())
	live.SetName(pom.Name)
	live.SetNamespace(pom.Namespace)
	live.SetUID(pom.UID)
	live.SetResourceVersion(pom.ResourceVersion)
	live.SetGeneration(pom.Generation)
	live.SetCreationTimestamp(pom.CreationTimestamp)
	live.SetLabels(pom.Labels)
	live.SetAnnotations(pom.Annotations)
	return live, code == http.StatusCreated, nil
}

// partialMetadataJSON asks the API server to answer with the object's
// metadata only.
const partialMetadataJSON = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// statuslessKinds are kinds with no status to wait on: an apply of one
// asks for its metadata back only (identity, resourceVersion), not the
// whole object, which the API server would encode and the agent decode
// for nothing — a thousand ConfigMaps' worth of work.
var statuslessKinds = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}:      true,
	{Kind: "Secret"}:         true,
	{Kind: "ServiceAccount"}: true,
	{Kind: "LimitRange"}:     true,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               true,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: true,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:              true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:              true,
}

// manifestHash hashes what Ferry sends for obj, but for the commit
// annotation: an object that did not change between two commits hashes
// the same.
func manifestHash(obj *unstructured.Unstructured) ([sha256.Size]byte, error) {
	ann := obj.GetAnnotations()
	commit, had := ann[AnnotationCommit]
	if had {
		delete(ann, AnnotationCommit)
		obj.SetAnnotations(ann)
		defer func() {
			ann[AnnotationCommit] = commit
			obj.SetAnnotations(ann)
		}()
	}
	b, err := direct.Marshal(obj.Object) // CBOR: map keys sorted, cheaper than JSON
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encode %s: %w", describe(obj), err)
	}
	return sha256.Sum256(b), nil
}

// applyWorkers bounds the concurrent applies of one rank.
const applyWorkers = 32

// applyGroup applies objects of one rank concurrently. It returns, per
// object, the live object and the verb (nil for those not applied) and the
// error of the first object that failed, in the objects' order.
func (a *Applier) applyGroup(ctx context.Context, maps []*meta.RESTMapping, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, []string, error) {
	lives := make([]*unstructured.Unstructured, len(objs))
	verbs := make([]string, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, applyWorkers)
	var wg sync.WaitGroup
	for i := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lives[i], verbs[i], errs[i] = a.applyOne(ctx, maps[i], objs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return lives, verbs, fmt.Errorf("apply %s: %w", describe(objs[i]), err)
		}
	}
	return lives, verbs, nil
}

// createNamespace creates ns unless it exists.
func (a *Applier) createNamespace(ctx context.Context, ns string, logf func(string, ...any)) error {
	_, err := a.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: FieldManager})
	switch {
	case err == nil:
		logf("created v1/Namespace %s (autoCreateNamespace)", ns)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil
	default:
		return fmt.Errorf("apply: create namespace %s: %w", ns, err)
	}
}

// crdGroupKind is the kind of CustomResourceDefinitions.
var crdGroupKind = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// waitEstablished waits until the CRD can serve its kind and returns the
// kind. It fails when the API server rejects the CRD's names.
func (a *Applier) waitEstablished(ctx context.Context, crd *unstructured.Unstructured) (schema.GroupKind, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	gk := schema.GroupKind{Group: group, Kind: kind}
	m, err := a.mapping(ctx, crd.GroupVersionKind(), false)
	if err != nil {
		return gk, err
	}
	var why string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		live, err := a.resource(m, "").Get(ctx, crd.GetName(), getOptions)
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			c, _ := c.(map[string]any)
			switch {
			case c["type"] == "Established" && c["status"] == "True":
				return true, nil
			case c["type"] == "NamesAccepted" && c["status"] == "False":
				return false, fmt.Errorf("names not accepted: %v", c["message"])
			case c["type"] == "Established":
				why = fmt.Sprint(c["message"])
			}
		}
		return false, nil
	})
	if err != nil {
		return gk, fmt.Errorf("wait for the CRD to be established (%s): %w", why, err)
	}
	return gk, nil
}
