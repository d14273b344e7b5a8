package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ferrycd/ferry/internal/hub"
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

// stream serves Server-Sent Events: it calls next and sends the events
// whose data changed since last sent, then calls it again whenever the hub
// reports a change that f selects (at most once per MinRedraw, so a burst
// costs one re-read), when the hub has reconnected to its broker, and every
// PollInterval regardless, until next says it is done, the client leaves,
// the server stops or the session has ended (checked every PollInterval;
// the stream then sends "signedout"). Without a hub (Options.Changes) it
// re-reads every PollInterval alone.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, f hub.ChangeFilter, next func() ([]event, bool)) {
	// Watch before the first read, so a change stored meanwhile is not
	// missed.
	var changes <-chan struct{}
	if h.opts.Changes != nil {
		ch, cancel := h.opts.Changes.WatchChanges(f)
		defer cancel()
		changes = ch
	}
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
	poll := time.NewTicker(h.opts.PollInterval)
	defer poll.Stop()
	var readAt time.Time
	for {
		readAt = time.Now()
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
		poll.Reset(h.opts.PollInterval)
		select {
		case <-r.Context().Done():
			return
		case <-h.opts.Stopping:
			return
		case <-poll.C:
			// A session signed out or revoked elsewhere ends its streams
			// within a poll interval; the page then reloads to sign in.
			if s, err := h.sessions.fromRequest(r); s == nil && err == nil {
				writeEvent(w, event{Name: "signedout", Data: "signed out"})
				_ = rc.Flush()
				return
			}
		case <-changes:
			if !h.pause(r, h.opts.MinRedraw-time.Since(readAt)) {
				return
			}
		}
	}
}

// pause waits d, and reports false if the client left or the server began
// to stop meanwhile.
func (h *Handler) pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-h.opts.Stopping:
		return false
	case <-t.C:
		return true
	}
}

// lineBreaks turns each of the event stream's line ends ("\r\n", "\r",
// "\n") into "\n", so that data can be split on it.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// oneLine drops the line ends from a field that must stay on one line.
var oneLine = strings.NewReplacer("\r", "", "\n", "")

// writeEvent writes e in the text/event-stream format: a data line per
// line of its data. A browser ends a line at "\r\n", "\r" or "\n" alike,
// so data is split at each of them: a lone "\r" left inside a data line (a
// commit message may hold one) would end that line there and let the rest
// be read as fields of its own, e.g. "event: pipeline", spoofing another
// part of the page. The id and name are internal but kept to one line too.
func writeEvent(w http.ResponseWriter, e event) {
	var b strings.Builder
	if e.ID != "" {
		b.WriteString("id: ")
		b.WriteString(oneLine.Replace(e.ID))
		b.WriteByte('\n')
	}
	b.WriteString("event: ")
	b.WriteString(oneLine.Replace(e.Name))
	b.WriteByte('\n')
	for _, line := range strings.Split(lineBreaks.Replace(e.Data), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, _ = w.Write([]byte(b.String()))
}
