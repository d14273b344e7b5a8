package kubernetes

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor/direct"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrycd/ferry/internal/model"
)

// errProviderClosed is returned by watches started after Provider.Close.
var errProviderClosed = errors.New("the platform provider is closed")

// liveCache is a provider's one view of the live objects of every
// application it watches, however many: one informer per declared resource
// type across namespaces, filtered by Ferry's managed-by label, and one per
// controller-made resource type (ReplicaSets, Pods, Jobs) per namespace
// holding a watched workload. Their events feed one liveIndex, which joins
// objects to applications and hands each watch its application's changes.
// So a thousand applications in one namespace cost one watch of its Pods,
// not a thousand, and each object is held once.
//
// The applier and drift detection read live objects from the same
// informers (lookup), so a watched application costs no reads of its own.
// Informers start on first need and run until the provider is closed.
type liveCache struct {
	applier *Applier
	index   *liveIndex

	mu        sync.Mutex
	stopped   bool
	stop      chan struct{}
	informers map[informerKey]*liveInformer
}

// informerKey names an informer: the declared informer of a resource (all
// namespaces, Ferry's objects), or the children informer of a resource in
// one namespace (every object).
type informerKey struct {
	gvr       schema.GroupVersionResource
	namespace string
	declared  bool
}

type liveInformer struct {
	inf cache.SharedIndexInformer
	// synced: the index has seen the informer's initial listing.
	synced cache.DoneChecker
}

func newLiveCache(a *Applier) *liveCache {
	return &liveCache{applier: a, index: newLiveIndex(), stop: make(chan struct{}), informers: map[informerKey]*liveInformer{}}
}

// informer returns the informer of key, starting it on first use.
func (c *liveCache) informer(key informerKey) (*liveInformer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if li := c.informers[key]; li != nil {
		return li, nil
	}
	if c.stopped {
		return nil, errProviderClosed
	}
	var tweak dynamicinformer.TweakListOptionsFunc
	src, transform := fromChildren, compactChild
	if key.declared {
		tweak = func(o *metav1.ListOptions) { o.LabelSelector = LabelManagedBy + "=" + ManagedByFerry }
		src, transform = fromDeclared, compactDeclared
	}
	inf := dynamicinformer.NewFilteredDynamicInformer(c.applier.dynamic, key.gvr, key.namespace, 0, cache.Indexers{}, tweak).Informer()
	if err := inf.SetTransform(transform); err != nil {
		return nil, err
	}
	reg, err := inf.AddEventHandler(c.index.handler(src))
	if err != nil {
		return nil, err
	}
	go inf.RunWithContext(wait.ContextForChannel(c.stop))
	li := &liveInformer{inf: inf, synced: reg.HasSyncedChecker()}
	c.informers[key] = li
	return li, nil
}

// watch starts the declared informer of gvr in the background, so the
// objects an apply writes are soon read from it (WaitHealthy, the next
// apply, drift). A nil liveCache does nothing.
func (c *liveCache) watch(gvr schema.GroupVersionResource) {
	if c == nil {
		return
	}
	_, _ = c.informer(informerKey{gvr: gvr, declared: true}) // a closed provider reads the API server
}

// lookup returns the live object of gvr in namespace with name, as the
// declared informer last saw it, when that informer runs, has synced and
// holds the object; ok is false otherwise (not watched, or not Ferry's:
// read it from the API server then). The object is decoded anew, the
// caller's to keep. A nil liveCache holds nothing.
func (c *liveCache) lookup(gvr schema.GroupVersionResource, namespace, name string) (obj *unstructured.Unstructured, ok bool) {
	item, ok := c.item(gvr, namespace, name)
	if !ok {
		return nil, false
	}
	return decodeLive(item)
}

// resourceVersion is lookup's object's resourceVersion, read without
// decoding the object.
func (c *liveCache) resourceVersion(gvr schema.GroupVersionResource, namespace, name string) (string, bool) {
	item, ok := c.item(gvr, namespace, name)
	if !ok {
		return "", false
	}
	m, err := meta.Accessor(item)
	if err != nil {
		return "", false
	}
	return m.GetResourceVersion(), true
}

// item is the stored object of a synced declared informer, as kept.
func (c *liveCache) item(gvr schema.GroupVersionResource, namespace, name string) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	li := c.informers[informerKey{gvr: gvr, declared: true}]
	c.mu.Unlock()
	if li == nil || !li.inf.HasSynced() {
		return nil, false
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	item, exists, err := li.inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	return item, true
}

// close stops every informer.
func (c *liveCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped = true
		close(c.stop)
	}
}

// liveObject is how the informers hold an object: its CBOR (Kubernetes'
// encoding of it, cheaper to write and read than JSON), and apart the
// metadata their stores key on. A Deployment decoded into an unstructured
// map is a few hundred small allocations, several times the size of its
// encoding; held compact, ten thousand live objects cost a few megabytes and
// leave no sparse spans behind in the heap. Readers decode what they read
// (object).
type liveObject struct {
	metav1.TypeMeta
	// ObjectMeta holds name, namespace, uid, resourceVersion and
	// generation only.
	metav1.ObjectMeta
	raw []byte // the object in CBOR; never modified
	// sum is what the live index reads of every event, computed while the
	// informer still holds the object decoded, so an event is decoded
	// once, not again to index it.
	sum liveSummary
}

// liveSummary is what the live index keeps of an object.
type liveSummary struct {
	// ownApp is the application whose ownership labels the object
	// carries, when they are whole (see owned); "" otherwise.
	ownApp  string
	owners  []types.UID
	created time.Time
	health  model.HealthStatus
	why     string
}

func summarize(u *unstructured.Unstructured) liveSummary {
	s := liveSummary{created: u.GetCreationTimestamp().Time}
	if app := u.GetLabels()[LabelApplication]; app != "" && owned(u, app, false) {
		s.ownApp = app
	}
	for _, ref := range u.GetOwnerReferences() {
		s.owners = append(s.owners, ref.UID)
	}
	s.health, s.why = Health(u)
	return s
}

// DeepCopyObject is runtime.Object's: raw is shared, it is never modified.
func (o *liveObject) DeepCopyObject() runtime.Object {
	c := *o
	c.ObjectMeta = *o.DeepCopy()
	return &c
}

// object decodes the object: the caller's to keep or modify.
func (o *liveObject) object() (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := direct.Unmarshal(o.raw, &m); err != nil {
		return nil, fmt.Errorf("decode the live copy of %s %s/%s: %w", o.Kind, o.Namespace, o.Name, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// compact turns an informer's decoded object into a liveObject.
func compact(u *unstructured.Unstructured) (*liveObject, error) {
	raw, err := direct.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	return &liveObject{
		sum:      summarize(u),
		TypeMeta: metav1.TypeMeta{APIVersion: u.GetAPIVersion(), Kind: u.GetKind()},
		ObjectMeta: metav1.ObjectMeta{
			Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(),
			ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration(),
		},
		raw: raw,
	}, nil
}

// decodeLive returns the object an informer handed over (a liveObject, or
// the tombstone of one), decoded.
func decodeLive(obj any) (*unstructured.Unstructured, bool) {
	if gone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = gone.Obj
	}
	switch o := obj.(type) {
	case *liveObject:
		u, err := o.object()
		return u, err == nil
	case *unstructured.Unstructured:
		return o, true
	}
	return nil, false
}

// compactDeclared is the declared informers' transform: live state and
// drift never read managedFields, often the larger part of an object.
func compactDeclared(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	u.SetManagedFields(nil)
	return compact(u)
}

// compactChild is the children informers' transform: of a ReplicaSet, Pod
// or Job it keeps what the tree and Health read (identity, owners, status,
// the replica and completion counts), so the Pods of a busy namespace cost
// little to hold.
func compactChild(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	meta := map[string]any{}
	if m, ok := u.Object["metadata"].(map[string]any); ok {
		for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "ownerReferences"} {
			if v, ok := m[k]; ok {
				meta[k] = v
			}
		}
	}
	slim := map[string]any{"apiVersion": u.Object["apiVersion"], "kind": u.Object["kind"], "metadata": meta}
	if s, ok := u.Object["status"]; ok {
		slim["status"] = s
	}
	if spec, ok := u.Object["spec"].(map[string]any); ok && u.GetKind() != "Pod" {
		keep := map[string]any{}
		for _, k := range []string{"replicas", "completions", "parallelism", "suspend"} {
			if v, ok := spec[k]; ok {
				keep[k] = v
			}
		}
		slim["spec"] = keep
	}
	u.Object = slim
	return compact(u)
}
