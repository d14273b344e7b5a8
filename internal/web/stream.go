package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// event is one Server-Sent Event. The console's script puts an event's
// data, HTML rendered here, into the element whose id is the event's name.
type event struct {
	// ID, when set, is sent as the event's id: the browser sends the last
	// one back as Last-Event-ID when it reconnects.
	ID   string
	Name string
	Data string
}

// stream serves Server-Sent Events: every poll interval it calls next and
// sends the events whose data changed since last sent, until next says it
// is done, the client leaves or the server stops. Each stream polls the
// datastore on its own; a page holds at most one or two streams.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, next func() ([]event, bool)) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// Tell the browser how long to wait before reconnecting.
	fmt.Fprintf(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	last := map[string]string{}
	t := time.NewTicker(h.opts.PollInterval)
	defer t.Stop()
	for {
		evs, done := next()
		for _, e := range evs {
			if last[e.Name] == e.Data {
				continue
			}
			last[e.Name] = e.Data
			writeEvent(w, e)
		}
		if done {
			writeEvent(w, event{Name: "end", Data: "end"})
		}
		if err := rc.Flush(); err != nil || done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.opts.Stopping:
			return
		case <-t.C:
		}
	}
}

// writeEvent writes e in the text/event-stream format: a data line per
// line of its data.
func writeEvent(w http.ResponseWriter, e event) {
	var b strings.Builder
	if e.ID != "" {
		b.WriteString("id: ")
		b.WriteString(e.ID)
		b.WriteByte('\n')
	}
	b.WriteString("event: ")
	b.WriteString(e.Name)
	b.WriteByte('\n')
	for _, line := range strings.Split(e.Data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, _ = w.Write([]byte(b.String()))
}
