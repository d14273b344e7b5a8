// Package platformtest holds what stage tests share in place of the
// control plane: a stage's metadata kept in memory.
package platformtest

import (
	"context"
	"maps"
	"sync"
)

// Metadata is a stage's metadata kept in memory, as the control plane
// keeps it: a platform.Metadata, safe for concurrent use. The zero value is
// empty and ready.
type Metadata struct {
	mu sync.Mutex
	kv map[string]string
}

// NewMetadata returns metadata holding a copy of kv.
func NewMetadata(kv map[string]string) *Metadata {
	return &Metadata{kv: maps.Clone(kv)}
}

// Get returns the value of key and whether it is set.
func (m *Metadata) Get(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.kv[key]
	return v, ok
}

// Put stores the pairs of kv.
func (m *Metadata) Put(_ context.Context, kv map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		m.kv = map[string]string{}
	}
	maps.Copy(m.kv, kv)
	return nil
}

// Snapshot returns a copy of every pair stored.
func (m *Metadata) Snapshot() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.kv))
	maps.Copy(out, m.kv)
	return out
}
