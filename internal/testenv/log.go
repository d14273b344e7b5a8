package testenv

import (
	"bytes"
	"sync"
	"testing"
)

// LogWriter returns a writer that sends each line to t.Log, so a component's
// logs show up with the test that produced them and only when it fails or
// runs verbosely. Writes after the test ended are dropped.
func LogWriter(t testing.TB) *TestLogWriter {
	w := &TestLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

// TestLogWriter is the writer LogWriter returns.
type TestLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	buf  []byte
	done bool
}

// Write implements io.Writer.
func (w *TestLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
