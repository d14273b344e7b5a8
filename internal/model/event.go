package model

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// EventStatus is whether the event watcher has acted on an event.
type EventStatus string

// The event statuses. An older event with the same key becomes OUTDATED.
const (
	EventNotHandled EventStatus = "NOT_HANDLED"
	EventSuccess    EventStatus = "SUCCESS"
	EventFailure    EventStatus = "FAILURE"
	EventOutdated   EventStatus = "OUTDATED"
)

// Event is a named value raised by CI, such as a new image tag, for the
// agents' event watchers.
type Event struct {
	ID                string
	ProjectID         string
	Name              string
	Data              string
	Labels            map[string]string
	Key               string
	Status            EventStatus
	StatusDescription string
	Contexts          map[string]string
	HandledAt         time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Revision          int64
}

// EventKey identifies the events that supersede each other: the same name
// and the same labels.
func EventKey(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	for _, k := range keys {
		b.WriteString("/" + k + ":" + labels[k])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
