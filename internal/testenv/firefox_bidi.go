package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gorilla/websocket"
)

// bidiConn is a WebDriver BiDi connection (https://w3c.github.io/webdriver-bidi/):
// JSON commands over a WebSocket, each answered by a message carrying its
// id, and events between them. Calls may run from several goroutines.
type bidiConn struct {
	ws      *websocket.Conn
	onEvent func(method string, params json.RawMessage)

	writeMu sync.Mutex // one writer at a time, as gorilla/websocket requires

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan bidiMessage
	err     error         // why the connection ended, once done is closed
	done    chan struct{} // closed when the reader stops
}

// bidiMessage is any message the browser sends.
type bidiMessage struct {
	Type    string          `json:"type"` // success, error, event
	ID      *int64          `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// BiDiError is a WebDriver BiDi command's error answer.
type BiDiError struct {
	Method string // the command
	Code   string // the spec's error code: "no such frame", "unknown error"...
	Msg    string // the browser's explanation
}

func (e *BiDiError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Method, e.Code, e.Msg)
}

// dialBiDi connects to the BiDi endpoint url (ws://host:port/session) and
// reads its messages until close; onEvent gets each event, on the reader
// goroutine, so it must not call the connection.
func dialBiDi(ctx context.Context, url string, onEvent func(method string, params json.RawMessage)) (*bidiConn, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	c := &bidiConn{ws: ws, onEvent: onEvent, pending: map[int64]chan bidiMessage{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

// read hands each answer to its caller and each event to onEvent, until
// the connection fails or is closed.
func (c *bidiConn) read() {
	var err error
	for {
		var m bidiMessage
		if err = c.ws.ReadJSON(&m); err != nil {
			break
		}
		if m.Type == "event" {
			if c.onEvent != nil {
				c.onEvent(m.Method, m.Params)
			}
			continue
		}
		if m.ID == nil {
			continue // an error about a message that was not a command
		}
		c.mu.Lock()
		ch := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("webdriver bidi connection: %w", err)
	c.mu.Unlock()
	close(c.done)
}

// call sends the command method with params and decodes its result into
// result (nil discards it). It returns a *BiDiError when the browser
// answers with an error, and ctx's error when ctx ends first; the answer
// that comes later is dropped.
func (c *bidiConn) call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan bidiMessage, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	c.writeMu.Lock()
	err := c.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params})
	c.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("send %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return &BiDiError{Method: method, Code: m.Error, Msg: m.Message}
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("%s: decode result: %w", method, err)
		}
		return nil
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, c.err)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close ends the connection and waits for the reader to stop.
func (c *bidiConn) close() error {
	err := c.ws.Close()
	<-c.done
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}
