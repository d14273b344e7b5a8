package analysis

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxCheckedBody is how much of a response an HTTP check reads to look
// for its expected response.
const maxCheckedBody = 1 << 20

// httpCheck is one HTTP check: a request whose response must have the
// expected status code and, when set, contain the expected text.
type httpCheck struct {
	url, method  string
	headers      [][2]string
	expectedCode int
	expectedBody string
	timeout      time.Duration
	client       *http.Client
}

// validURL checks the rendered URL.
func (h *httpCheck) validURL() error {
	u, err := url.Parse(h.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL", redactURL(h.url))
	}
	return nil
}

// describe writes the check for the opening log line, without header
// values or query strings, which may hold credentials.
func (h *httpCheck) describe() string {
	d := fmt.Sprintf("%s %s expecting %d", h.method, redactURL(h.url), h.expectedCode)
	if h.expectedBody != "" {
		d += fmt.Sprintf(" and a body containing %q", h.expectedBody)
	}
	if len(h.headers) > 0 {
		var names []string
		for _, kv := range h.headers {
			names = append(names, kv[0])
		}
		d += " (headers " + strings.Join(names, ", ") + ")"
	}
	return d
}

// evaluate sends the request once. A request that gets no response at
// all (refused, timed out) is errNoData: skipOnNoData skips it.
func (h *httpCheck) evaluate(ctx context.Context, _ time.Time) (verdict, error) {
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, h.method, h.url, nil)
	if err != nil {
		return verdict{}, fmt.Errorf("build the request: %w", unwrapURLError(err))
	}
	for _, kv := range h.headers {
		if strings.EqualFold(kv[0], "Host") {
			req.Host = kv[1]
			continue
		}
		req.Header.Set(kv[0], kv[1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		err = queryError(rctx, h.timeout, unwrapURLError(err))
		return verdict{}, &noResponseError{msg: fmt.Sprintf("no response to %s %s: %v", h.method, redactURL(h.url), err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckedBody))
	if err != nil {
		return verdict{}, fmt.Errorf("%s %s: read the response: %w", h.method, redactURL(h.url), queryError(rctx, h.timeout, err))
	}
	d := fmt.Sprintf("%s %s answered %d", h.method, redactURL(h.url), resp.StatusCode)
	if resp.StatusCode != h.expectedCode {
		return verdict{detail: fmt.Sprintf("%s, not the expected %d", d, h.expectedCode)}, nil
	}
	if h.expectedBody != "" {
		if !strings.Contains(string(body), h.expectedBody) {
			return verdict{detail: fmt.Sprintf("%s without %q in its body", d, h.expectedBody)}, nil
		}
		d += fmt.Sprintf(" with %q in its body", h.expectedBody)
	}
	return verdict{pass: true, detail: d}, nil
}

// noResponseError is a request that got no response: no data, to
// skipOnNoData.
type noResponseError struct{ msg string }

func (e *noResponseError) Error() string { return e.msg }

// Is makes errors.Is(err, errNoData) hold.
func (e *noResponseError) Is(target error) bool { return target == errNoData }
