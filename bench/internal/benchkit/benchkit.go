// Package benchkit holds what Ferry's benchmarks share: the machine facts
// their reports print, a git runner for the repositories they commit to,
// and a UserService client carrying an API key.
package benchkit

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"connectrpc.com/connect"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
)

// LoadAverage returns the 1-minute load average from /proc/loadavg, or "?".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// CPUModel returns the first "model name" of /proc/cpuinfo, or "unknown CPU".
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// Git runs git in dir (made if missing) with a fixed identity and no user
// or system config, and returns its trimmed standard output.
func Git(dir string, args ...string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("git", append([]string{"-c", "user.name=bench", "-c", "user.email=bench@ferry.dev"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// Commit commits everything in the repository at dir.
func Commit(dir, msg string) error {
	if _, err := Git(dir, "add", "-A"); err != nil {
		return err
	}
	_, err := Git(dir, "commit", "-q", "-m", msg)
	return err
}

// UserClient is a UserService client at addr sending key as its bearer
// token, over hc.
func UserClient(hc *http.Client, addr, key string) ferryv1connect.UserServiceClient {
	return ferryv1connect.NewUserServiceClient(hc, addr, connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+key)
				return next(ctx, req)
			}
		})))
}

// Poll calls cond every interval, at once first, until it reports true or
// fails; when timeout passes first it returns an error saying what was
// waited for ("<what> within <timeout>").
func Poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error), what string) error {
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(context.Context) (bool, error) { return cond() })
	if err != nil && wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("%s within %s", what, timeout)
	}
	return err
}

// FreshSchema creates an empty schema in the PostgreSQL database at base
// and returns a URL that uses it, and a function that drops it.
func FreshSchema(base string) (string, func(), error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("ferry_bench_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		_, _ = db.Exec("DROP SCHEMA " + name + " CASCADE")
		db.Close()
	}, nil
}
