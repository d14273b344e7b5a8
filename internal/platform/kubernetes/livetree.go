package kubernetes

import (
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// source says which informers see an object: a declared informer (by
// ownership labels), a children informer, or both.
type source uint8

const (
	fromDeclared source = 1 << iota
	fromChildren
)

// liveIndex joins the objects the informers report into the resource trees
// of applications. An object belongs to the application whose ownership
// labels and key annotation it carries (Ferry applied it for that
// application), or else to the application of its first owner that belongs
// to one. Objects whose owners are not seen yet are kept, so a Pod that
// arrives before its ReplicaSet joins the tree when the ReplicaSet does.
//
// Each watch subscribes for its application and, once the informers it
// needs have synced, gets a snapshot and then the changes. Safe for
// concurrent use; subscribers' emit functions are called with the lock
// held, so one at a time and in order, and must return quickly.
type liveIndex struct {
	mu    sync.Mutex
	nodes map[types.UID]*liveNode
	// children indexes owner UID → owned UIDs, including owners not seen.
	children map[types.UID]map[types.UID]bool
	// members lists each application's objects.
	members map[string]map[types.UID]bool
	subs    map[string][]*liveSub
}

type liveNode struct {
	sources source
	// ownApp is the application whose ownership the object carries, as a
	// declared informer saw it; app the one it belongs to (ownApp or an
	// owner's); declared says app == ownApp.
	ownApp, app string
	declared    bool
	owners      []types.UID
	state       model.ResourceState
}

// liveSub is one watch of one application.
type liveSub struct {
	app    string
	emit   func(platform.LiveUpdate)
	synced bool
}

func newLiveIndex() *liveIndex {
	return &liveIndex{
		nodes: map[types.UID]*liveNode{}, children: map[types.UID]map[types.UID]bool{},
		members: map[string]map[types.UID]bool{}, subs: map[string][]*liveSub{},
	}
}

// handler feeds the index from one informer.
func (x *liveIndex) handler(src source) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { x.upsert(obj, src) },
		UpdateFunc: func(_, obj any) { x.upsert(obj, src) },
		DeleteFunc: func(obj any) { x.remove(obj, src) },
	}
}

// subscribe registers emit for app's changes; they flow once markSynced
// sent the snapshot.
func (x *liveIndex) subscribe(app string, emit func(platform.LiveUpdate)) *liveSub {
	s := &liveSub{app: app, emit: emit}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.subs[app] = append(x.subs[app], s)
	return s
}

// unsubscribe ends s: emit is not called again once it returns.
func (x *liveIndex) unsubscribe(s *liveSub) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.subs[s.app] = slices.DeleteFunc(x.subs[s.app], func(o *liveSub) bool { return o == s })
	if len(x.subs[s.app]) == 0 {
		delete(x.subs, s.app)
	}
}

// markSynced sends s the snapshot of its application: every object, ordered
// by id; changes follow.
func (x *liveIndex) markSynced(s *liveSub) {
	x.mu.Lock()
	defer x.mu.Unlock()
	all := make([]platform.LiveChange, 0, len(x.members[s.app]))
	for uid := range x.members[s.app] {
		n := x.nodes[uid]
		all = append(all, platform.LiveChange{Resource: n.state, Declared: n.declared})
	}
	slices.SortFunc(all, func(a, b platform.LiveChange) int { return strings.Compare(a.Resource.ID, b.Resource.ID) })
	s.synced = true
	s.emit(platform.LiveUpdate{Full: true, Changes: all})
}

// changes collects the changes of one event, by application.
type changes map[string][]platform.LiveChange

func (x *liveIndex) upsert(o any, src source) {
	if gone, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = gone.Obj
	}
	var lo *liveObject
	switch obj := o.(type) {
	case *liveObject:
		lo = obj
	case *unstructured.Unstructured:
		// Not through an informer's transform (tests feed the index
		// directly): summarize it here.
		var err error
		if lo, err = compact(obj); err != nil {
			return
		}
	default:
		return
	}
	sum := lo.sum
	x.mu.Lock()
	defer x.mu.Unlock()
	uid := lo.UID
	n := x.nodes[uid]
	if n == nil {
		n = &liveNode{}
		x.nodes[uid] = n
	}
	n.sources |= src
	if src == fromDeclared {
		n.ownApp = sum.ownApp
	}
	x.unlink(uid, n.owners)
	n.owners = append(n.owners[:0], sum.owners...)
	for _, ref := range sum.owners {
		if x.children[ref] == nil {
			x.children[ref] = map[types.UID]bool{}
		}
		x.children[ref][uid] = true
	}
	n.state = model.ResourceState{
		ID: string(uid), APIVersion: lo.APIVersion, Kind: lo.Kind,
		Namespace: lo.Namespace, Name: lo.Name, Health: sum.health, HealthDescription: sum.why,
		CreatedAt: sum.created, UpdatedAt: time.Now(),
	}
	out := changes{}
	x.resolve(uid, true, out)
	x.send(out)
}

func (x *liveIndex) remove(o any, src source) {
	if gone, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = gone.Obj
	}
	obj, err := meta.Accessor(o) // the uid is all it needs: no decoding
	if err != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	uid := obj.GetUID()
	n := x.nodes[uid]
	if n == nil {
		return
	}
	out := changes{}
	n.sources &^= src
	if src == fromDeclared {
		n.ownApp = ""
	}
	if n.sources != 0 {
		// Still seen by the other informers (it lost its labels, say).
		x.resolve(uid, false, out)
		x.send(out)
		return
	}
	delete(x.nodes, uid)
	x.unlink(uid, n.owners)
	if n.app != "" {
		x.leave(uid, n, out)
	}
	for child := range x.children[uid] {
		x.resolve(child, true, out)
	}
	x.send(out)
}

// unlink drops uid from its owners' child lists.
func (x *liveIndex) unlink(uid types.UID, owners []types.UID) {
	for _, o := range owners {
		delete(x.children[o], uid)
		if len(x.children[o]) == 0 {
			delete(x.children, o)
		}
	}
}

// leave records that uid no longer belongs to n.app.
func (x *liveIndex) leave(uid types.UID, n *liveNode, out changes) {
	delete(x.members[n.app], uid)
	if len(x.members[n.app]) == 0 {
		delete(x.members, n.app)
	}
	out[n.app] = append(out[n.app], platform.LiveChange{Resource: n.state, Deleted: true, Declared: n.declared})
}

// resolve recomputes which application uid belongs to and records the
// change: an update when it belongs and changed (or just joined), a
// deletion from the application it just left. A node that moves carries
// its children along.
func (x *liveIndex) resolve(uid types.UID, changed bool, out changes) {
	n := x.nodes[uid]
	if n == nil {
		return
	}
	app := n.ownApp
	if app == "" {
		for _, o := range n.owners {
			if p := x.nodes[o]; p != nil && p.app != "" {
				app = p.app
				break
			}
		}
	}
	moved := app != n.app
	if moved && n.app != "" {
		x.leave(uid, n, out)
	}
	n.app, n.declared = app, app != "" && app == n.ownApp
	if app != "" && (changed || moved) {
		if x.members[app] == nil {
			x.members[app] = map[types.UID]bool{}
		}
		x.members[app][uid] = true
		n.state.OwnerIDs = ownerIDs(n.owners)
		parents := make([]string, 0, len(n.owners))
		for _, o := range n.owners {
			if p := x.nodes[o]; p != nil && p.app == app {
				parents = append(parents, string(o))
			}
		}
		n.state.ParentIDs = parents
		out[app] = append(out[app], platform.LiveChange{Resource: n.state, Declared: n.declared})
	}
	if moved {
		for child := range x.children[uid] {
			x.resolve(child, true, out)
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

// send hands each application's changes to its synced subscribers.
func (x *liveIndex) send(out changes) {
	for app, ch := range out {
		for _, s := range x.subs[app] {
			if s.synced {
				s.emit(platform.LiveUpdate{Changes: ch})
			}
		}
	}
}
