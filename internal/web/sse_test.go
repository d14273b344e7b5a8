package web

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

// sseEvents reads Server-Sent Events from res until want returns true. It
// reads the stream as a browser does (the HTML standard's event stream
// interpretation): a line ends at "\r\n", "\r" or "\n", and a field's value
// loses one leading space.
func sseEvents(t *testing.T, res *http.Response, want func(name, data string) bool) {
	t.Helper()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Split(scanSSELines)
	var name string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data != nil && want(name, strings.Join(data, "\n")) {
				return
			}
			name, data = "", nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			data = append(data, value)
		}
	}
	t.Fatalf("the stream ended before the expected event: %v", sc.Err())
}

// scanSSELines is a bufio.SplitFunc for the lines of an event stream,
// which end at "\r\n", "\r" or "\n".
func scanSSELines(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data) && data[i+1] == '\n':
		return i + 2, data[:i], nil
	case i+1 < len(data) || atEOF:
		return i + 1, data[:i], nil
	}
	// A "\r" at the end of what was read: a "\n" may follow.
	return 0, nil, nil
}

func TestACarriageReturnInACommitMessageCannotSpoofAnotherPart(t *testing.T) {
	c := newConsole(t, Options{})
	const spoof = "bump image\revent: pipeline\rdata: all stages passed\r\rdata: and more\r\n"
	if _, err := c.store.UpdateDeployment(context.Background(), c.dep.ID, func(d *model.Deployment) error {
		d.Trigger.Commit.Message = spoof
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	var summary bool
	sseEvents(t, res, func(name, data string) bool {
		if strings.Contains(data, "all stages passed") && name != "summary" {
			t.Fatalf("the commit message made an event %q of its own:\n%s", name, data)
		}
		if name == "summary" {
			summary = true
			if !strings.Contains(data, "bump image\nevent: pipeline\ndata: all stages passed\n\ndata: and more") {
				t.Errorf("the summary does not hold the whole commit message, its line breaks as line feeds:\n%s", data)
			}
		}
		return name == "pipeline"
	})
	if !summary {
		t.Error("no summary event came before the pipeline's")
	}
}

func TestEventsAreFramedOnEveryLineBreak(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    event
		want string
	}{
		{"line feeds", event{Name: "x", Data: "a\nb"}, "event: x\ndata: a\ndata: b\n\n"},
		{"a carriage return", event{Name: "x", Data: "a\rb"}, "event: x\ndata: a\ndata: b\n\n"},
		{"both", event{Name: "x", Data: "a\r\nb\n\rc"}, "event: x\ndata: a\ndata: b\ndata: \ndata: c\n\n"},
		{"a break in the id and name", event{ID: "1\r2", Name: "x\ny"}, "id: 12\nevent: xy\ndata: \n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeEvent(rec, tc.e)
			if got := rec.Body.String(); got != tc.want {
				t.Errorf("writeEvent(%+q) wrote %q, want %q", tc.e, got, tc.want)
			}
		})
	}
}
