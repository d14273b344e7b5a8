package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// firefoxTab drives a FirefoxEnv's tab through WebDriver BiDi.
type firefoxTab struct{ f *FirefoxEnv }

var _ tabDriver = firefoxTab{}

func (d firefoxTab) navigate(ctx context.Context, url string) error {
	return d.f.conn.call(ctx, "browsingContext.navigate", map[string]any{
		"context": d.f.tab, "url": url, "wait": "complete",
	}, nil)
}

func (d firefoxTab) evalJSON(ctx context.Context, js string) (string, error) {
	var r struct {
		Type   string
		Result struct {
			Type  string
			Value json.RawMessage
		}
		ExceptionDetails struct {
			Text       string
			LineNumber int
		}
	}
	// The call runs in the realm of the tab's current document. Firefox
	// does not answer a call whose document a navigation destroys, so the
	// call ends when its realm does.
	var realms struct {
		Realms []struct{ Realm, Sandbox string }
	}
	if err := d.f.conn.call(ctx, "script.getRealms", map[string]any{"context": d.f.tab, "type": "window"}, &realms); err != nil {
		return "", err
	}
	var realm string
	for _, info := range realms.Realms {
		if info.Sandbox == "" {
			realm = info.Realm // the document's own, not a sandbox
		}
	}
	if realm == "" {
		// Between two documents: the caller's wait starts over.
		return "", errDocumentGone
	}
	gone, unwatch := d.f.watchRealm(realm)
	defer unwatch()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-gone:
			cancel(errDocumentGone)
		case <-ctx.Done():
		}
	}()
	if err := d.f.conn.call(ctx, "script.callFunction", map[string]any{
		"functionDeclaration": "() => (" + js + ")",
		"awaitPromise":        true,
		"target":              map[string]string{"realm": realm},
		"resultOwnership":     "none",
	}, &r); err != nil {
		if errors.Is(context.Cause(ctx), errDocumentGone) {
			return "", errDocumentGone
		}
		return "", err
	}
	if r.Type == "exception" {
		return "", fmt.Errorf("javascript: %s (line %d)", r.ExceptionDetails.Text, r.ExceptionDetails.LineNumber)
	}
	var s string
	if r.Result.Type != "string" || json.Unmarshal(r.Result.Value, &s) != nil {
		return "", fmt.Errorf("javascript returned a %s, not a string", r.Result.Type)
	}
	return s, nil
}

func (d firefoxTab) keys(ctx context.Context, keys string) error {
	var actions []map[string]string
	for _, k := range keys {
		actions = append(actions,
			map[string]string{"type": "keyDown", "value": string(k)},
			map[string]string{"type": "keyUp", "value": string(k)})
	}
	return d.f.conn.call(ctx, "input.performActions", map[string]any{
		"context": d.f.tab,
		"actions": []any{map[string]any{"type": "key", "id": "keyboard", "actions": actions}},
	}, nil)
}

func (d firefoxTab) click(ctx context.Context, x, y float64) error {
	return d.f.conn.call(ctx, "input.performActions", map[string]any{
		"context": d.f.tab,
		"actions": []any{map[string]any{
			"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
			"actions": []map[string]any{
				{"type": "pointerMove", "x": int(x), "y": int(y), "origin": "viewport"},
				{"type": "pointerDown", "button": 0},
				{"type": "pointerUp", "button": 0},
			},
		}},
	}, nil)
}

func (d firefoxTab) setViewport(ctx context.Context, width, height int) error {
	return d.f.conn.call(ctx, "browsingContext.setViewport", map[string]any{
		"context":  d.f.tab,
		"viewport": map[string]int{"width": width, "height": height},
	}, nil)
}

func (d firefoxTab) screenshot(ctx context.Context) ([]byte, error) {
	var r struct{ Data string }
	if err := d.f.conn.call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": d.f.tab}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// documentGone recognises the errors Firefox answers a script call with
// when a navigation destroyed the document it ran in.
func (firefoxTab) documentGone(err error) bool {
	if errors.Is(err, errDocumentGone) {
		return true
	}
	var be *BiDiError
	if !errors.As(err, &be) {
		return false
	}
	return be.Code == "no such frame" || strings.Contains(be.Msg, "destroyed") || strings.Contains(be.Msg, "discarded")
}

// realmDestroyed notes that the document of realm is gone.
func (f *FirefoxEnv) realmDestroyed(realm string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone[realm] = true
	if ch := f.watchers[realm]; ch != nil {
		close(ch)
		delete(f.watchers, realm)
	}
}

// watchRealm returns a channel closed once realm is destroyed, and a
// function to stop watching.
func (f *FirefoxEnv) watchRealm(realm string) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	if f.gone[realm] {
		close(ch)
		return ch, func() {}
	}
	f.watchers[realm] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.watchers[realm] == ch {
			delete(f.watchers, realm)
		}
	}
}

// errDocumentGone is what a script call returns when the document it ran
// in was destroyed first: Firefox never answers such a call.
var errDocumentGone = errors.New("the document was replaced while the script ran")
