package kubernetes

import (
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// source says which informers see an object: those of the declared kinds
// (by ownership labels), those of controller-made kinds, or both.
type source uint8

const (
	fromDeclared source = 1 << iota
	fromChildren
)

// liveTree joins the objects informers report into an application's
// resource tree. An object belongs to the application when Ferry applied it
// for the application (owned), or when one of its owners belongs. Objects
// whose owners are not seen yet are kept, so a Pod that arrives before its
// ReplicaSet joins the tree when the ReplicaSet does. Safe for concurrent
// use; emit is called with the lock held, so one at a time and in order.
type liveTree struct {
	appID string
	emit  func(platform.LiveUpdate)

	mu              sync.Mutex
	synced, stopped bool
	nodes           map[types.UID]*liveNode
	// children indexes owner UID → owned UIDs, including owners not seen.
	children map[types.UID]map[types.UID]bool
}

type liveNode struct {
	sources source
	// declared: Ferry applied the object for this application.
	declared bool
	member   bool
	owners   []types.UID
	state    model.ResourceState
}

func newLiveTree(appID string, emit func(platform.LiveUpdate)) *liveTree {
	return &liveTree{appID: appID, emit: emit, nodes: map[types.UID]*liveNode{}, children: map[types.UID]map[types.UID]bool{}}
}

// handler feeds the tree from one informer.
func (t *liveTree) handler(src source) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.upsert(obj, src) },
		UpdateFunc: func(_, obj any) { t.upsert(obj, src) },
		DeleteFunc: func(obj any) {
			if gone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = gone.Obj
			}
			t.remove(obj, src)
		},
	}
}

func (t *liveTree) upsert(o any, src source) {
	obj, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	uid := obj.GetUID()
	n := t.nodes[uid]
	if n == nil {
		n = &liveNode{}
		t.nodes[uid] = n
	}
	n.sources |= src
	if src == fromDeclared {
		n.declared = owned(obj, t.appID, false)
	}
	t.unlink(uid, n.owners)
	n.owners = n.owners[:0]
	for _, ref := range obj.GetOwnerReferences() {
		n.owners = append(n.owners, ref.UID)
		if t.children[ref.UID] == nil {
			t.children[ref.UID] = map[types.UID]bool{}
		}
		t.children[ref.UID][uid] = true
	}
	health, why := Health(obj)
	n.state = model.ResourceState{
		ID: string(uid), APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(),
		Namespace: obj.GetNamespace(), Name: obj.GetName(), Health: health, HealthDescription: why,
		CreatedAt: obj.GetCreationTimestamp().Time, UpdatedAt: time.Now(),
	}
	var out []platform.LiveChange
	t.resolve(uid, true, &out)
	t.send(out)
}

func (t *liveTree) remove(o any, src source) {
	obj, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	uid := obj.GetUID()
	n := t.nodes[uid]
	if n == nil {
		return
	}
	var out []platform.LiveChange
	n.sources &^= src
	if src == fromDeclared {
		n.declared = false
	}
	if n.sources != 0 {
		// Still seen by the other informers (it lost its labels, say).
		t.resolve(uid, false, &out)
		t.send(out)
		return
	}
	delete(t.nodes, uid)
	t.unlink(uid, n.owners)
	if n.member {
		out = append(out, platform.LiveChange{Resource: n.state, Deleted: true, Declared: n.declared})
	}
	for child := range t.children[uid] {
		t.resolve(child, true, &out)
	}
	t.send(out)
}

// unlink drops uid from its owners' child lists.
func (t *liveTree) unlink(uid types.UID, owners []types.UID) {
	for _, o := range owners {
		delete(t.children[o], uid)
		if len(t.children[o]) == 0 {
			delete(t.children, o)
		}
	}
}

// resolve recomputes whether uid belongs to the application and records
// the change: an update when it belongs and changed (or just joined), a
// deletion when it just left. A node that joins or leaves carries its
// children along.
func (t *liveTree) resolve(uid types.UID, changed bool, out *[]platform.LiveChange) {
	n := t.nodes[uid]
	if n == nil {
		return
	}
	member := n.declared
	parents := make([]string, 0, len(n.owners))
	for _, o := range n.owners {
		if p := t.nodes[o]; p != nil && p.member {
			member = true
			parents = append(parents, string(o))
		}
	}
	flipped := member != n.member
	n.member = member
	switch {
	case member && (changed || flipped):
		n.state.OwnerIDs = ownerIDs(n.owners)
		n.state.ParentIDs = parents
		*out = append(*out, platform.LiveChange{Resource: n.state, Declared: n.declared})
	case flipped:
		*out = append(*out, platform.LiveChange{Resource: n.state, Deleted: true, Declared: n.declared})
	}
	if flipped {
		for child := range t.children[uid] {
			t.resolve(child, true, out)
		}
	}
}

func ownerIDs(uids []types.UID) []string {
	out := make([]string, len(uids))
	for i, u := range uids {
		out[i] = string(u)
	}
	return out
}

// send emits changes once the first snapshot went out.
func (t *liveTree) send(out []platform.LiveChange) {
	if len(out) > 0 && t.synced && !t.stopped {
		t.emit(platform.LiveUpdate{Changes: out})
	}
}

// markSynced emits the first snapshot: every member, ordered by id.
func (t *liveTree) markSynced() {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := []platform.LiveChange{}
	for _, n := range t.nodes {
		if n.member {
			all = append(all, platform.LiveChange{Resource: n.state, Declared: n.declared})
		}
	}
	slices.SortFunc(all, func(x, y platform.LiveChange) int { return strings.Compare(x.Resource.ID, y.Resource.ID) })
	t.synced = true
	t.emit(platform.LiveUpdate{Full: true, Changes: all})
}

// stop ends emitting: informers still running deliver into the void.
func (t *liveTree) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
}
