package analysis

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// datadogFake is a FAKE of Datadog's metrics query API, the one fake of
// this package: Datadog cannot run here. It follows the recorded contract
// of GET /api/v1/query (https://docs.datadoghq.com/api/latest/metrics/#query-timeseries-points):
// from and to in seconds since the epoch and query as URL parameters, the
// keys in the DD-API-KEY and DD-APPLICATION-KEY headers, a 403 with
// {"errors": ["Forbidden"]} for a wrong key, and on success
// {"status": "ok", "res_type": "time_series", "series": [{"metric", "scope",
// "pointlist": [[ms, value|null]...], "length"}], "from_date", "to_date",
// "query"}. The values answered for each query are set by the test.
type datadogFake struct {
	*httptest.Server
	apiKey, appKey string

	mu     sync.Mutex
	series map[string][]*float64 // by query
	asked  []datadogRequest
}

// datadogRequest is a query the fake answered.
type datadogRequest struct {
	query    string
	from, to time.Time
}

func newDatadogFake(t testing.TB, apiKey, appKey string) *datadogFake {
	f := &datadogFake{apiKey: apiKey, appKey: appKey, series: map[string][]*float64{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// set makes the fake answer query with values spread over the range asked;
// a nil value is a gap (null).
func (f *datadogFake) set(query string, values ...*float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series[query] = values
}

func (f *datadogFake) requests() []datadogRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]datadogRequest(nil), f.asked...)
}

func (f *datadogFake) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":["Not found"]}`))
		return
	}
	if r.Header.Get("DD-API-KEY") != f.apiKey || r.Header.Get("DD-APPLICATION-KEY") != f.appKey {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":["Forbidden"]}`))
		return
	}
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || q.Get("query") == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errors":["The value provided for parameter 'from' is invalid"]}`))
		return
	}
	f.mu.Lock()
	f.asked = append(f.asked, datadogRequest{query: q.Get("query"), from: time.Unix(from, 0), to: time.Unix(to, 0)})
	values, known := f.series[q.Get("query")]
	f.mu.Unlock()

	type series struct {
		Metric    string         `json:"metric"`
		Scope     string         `json:"scope"`
		Pointlist [][2]any       `json:"pointlist"`
		Length    int            `json:"length"`
		Unit      []any          `json:"unit"`
		Attrs     map[string]any `json:"attributes"`
	}
	resp := map[string]any{
		"status": "ok", "res_type": "time_series", "query": q.Get("query"),
		"from_date": from * 1000, "to_date": to * 1000, "series": []series{},
	}
	if known && len(values) > 0 {
		s := series{Metric: "fake.metric", Scope: "*", Length: len(values), Attrs: map[string]any{}}
		step := (to - from) * 1000 / int64(len(values))
		for i, v := range values {
			var val any
			if v != nil {
				val = *v
			}
			s.Pointlist = append(s.Pointlist, [2]any{float64(from*1000 + int64(i)*step), val})
		}
		resp["series"] = []series{s}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// vals returns pointers to values, for datadogFake.set.
func vals(vs ...float64) []*float64 {
	out := make([]*float64, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}
