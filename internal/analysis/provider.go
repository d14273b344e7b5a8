package analysis

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ferrycd/ferry/internal/config"
)

// The analysis provider types an agent config may name.
const (
	ProviderPrometheus  = "PROMETHEUS"
	ProviderDatadog     = "DATADOG"
	providerStackdriver = "STACKDRIVER"
)

// errNoData is wrapped by the errors of queries that returned nothing to
// judge (an empty result, only NaN values) and of HTTP checks that got no
// response: what skipOnNoData skips.
var errNoData = errors.New("no data")

// source is a metrics provider.
type source interface {
	// Current returns the query's values now, for a THRESHOLD check;
	// window is the time since the previous check, for providers that only
	// answer over a range.
	Current(ctx context.Context, query string, now time.Time, window time.Duration) ([]float64, error)
	// Series returns the query's values over [from, to], for a comparison.
	Series(ctx context.Context, query string, from, to time.Time) ([]float64, error)
}

// newSource checks a provider's config and builds its client. Errors name
// the field at fault, relative to the provider ("config.address: ...").
func newSource(p config.AnalysisProvider, client *http.Client) (source, error) {
	if strings.TrimSpace(p.Name) == "" {
		return nil, errors.New("name: is required: the name ANALYSIS metrics give as their provider")
	}
	switch p.Type {
	case ProviderPrometheus:
		c, err := readConfig(p.Config, "address", "usernameFile", "passwordFile")
		if err != nil {
			return nil, err
		}
		address, err := httpAddress(c["address"], "")
		if err != nil {
			return nil, err
		}
		if (c["usernameFile"] == "") != (c["passwordFile"] == "") {
			return nil, errors.New("config: usernameFile and passwordFile go together: give both or neither")
		}
		var user, password string
		if c["usernameFile"] != "" {
			if user, err = readSecret("usernameFile", c["usernameFile"], ""); err != nil {
				return nil, err
			}
			if password, err = readSecret("passwordFile", c["passwordFile"], ""); err != nil {
				return nil, err
			}
		}
		return newPrometheus(address, user, password, client)
	case ProviderDatadog:
		c, err := readConfig(p.Config, "address", "apiKeyFile", "apiKeyData", "applicationKeyFile", "applicationKeyData")
		if err != nil {
			return nil, err
		}
		address, err := datadogAddress(c["address"])
		if err != nil {
			return nil, err
		}
		apiKey, err := readSecret("apiKeyFile", c["apiKeyFile"], c["apiKeyData"])
		if err != nil {
			return nil, err
		}
		appKey, err := readSecret("applicationKeyFile", c["applicationKeyFile"], c["applicationKeyData"])
		if err != nil {
			return nil, err
		}
		return &datadog{address: address, apiKey: apiKey, applicationKey: appKey, client: client}, nil
	case providerStackdriver:
		return nil, errors.New("type: STACKDRIVER is a log provider, and Ferry runs no log analysis: use PROMETHEUS or DATADOG")
	case "":
		return nil, errors.New("type: is required: PROMETHEUS or DATADOG")
	default:
		return nil, fmt.Errorf("type: unknown analysis provider type %q: use PROMETHEUS or DATADOG", p.Type)
	}
}

// readConfig returns a provider's config as strings, refusing keys not in
// known and values that are not strings.
func readConfig(cfg map[string]any, known ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range cfg {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("config.%s: unknown field: use %s", k, strings.Join(known, ", "))
		}
		s, ok := v.(string)
		if !ok && v != nil {
			return nil, fmt.Errorf("config.%s: want a string, not %T", k, v)
		}
		out[k] = strings.TrimSpace(s)
	}
	return out, nil
}

// httpAddress checks an http(s) base URL; an empty one is def, or an
// error when def is empty too.
func httpAddress(s, def string) (string, error) {
	if s == "" {
		if def == "" {
			return "", errors.New("config.address: is required: the server's URL, such as http://prometheus:9090")
		}
		s = def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("config.address: %q is not an http or https URL", redactURL(s))
	}
	if u.User != nil {
		return "", errors.New("config.address: put no credentials in the URL: use usernameFile and passwordFile")
	}
	return strings.TrimRight(s, "/"), nil
}

// datadogAddress turns a Datadog address into the API's base URL. PipeCD
// configs name the site ("datadoghq.com", "datadoghq.eu"), whose API is at
// https://api.<site>; a URL is used as it is.
func datadogAddress(s string) (string, error) {
	if s != "" && !strings.Contains(s, "://") {
		s = "https://api." + strings.TrimPrefix(s, "api.")
	}
	return httpAddress(s, "https://api.datadoghq.com")
}

// readSecret returns a secret from its file or, failing that, from data
// (base64, as PipeCD's *Data fields). Errors name the field and the file,
// never the content.
func readSecret(field, file, data string) (string, error) {
	switch {
	case file != "" && data != "":
		return "", fmt.Errorf("config.%s: give the file or the data, not both", field)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("config.%s: %w", field, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("config.%s: %s is empty", field, file)
		}
		return s, nil
	case data != "":
		dataField := strings.TrimSuffix(field, "File") + "Data"
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return "", fmt.Errorf("config.%s: is not base64", dataField)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("config.%s: is empty", dataField)
	}
	return "", fmt.Errorf("config.%s: is required", field)
}

// redactURL returns a URL fit for logs and errors: no user information and
// no query values, which may hold tokens.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = ""
		return u.String() + "?…"
	}
	return u.String()
}

// queryError returns err for a query or check that ran under a timeout
// of its own: a timeout is said in words.
func queryError(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("no answer within the timeout of %s", timeout)
	}
	return err
}
