package localcluster_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ferrycd/ferry/internal/testenv"
)

// The proof tests share one cluster, started by the first testenv.Kube.
func TestMain(m *testing.M) { testenv.RunWithKube(m) }

// waitUntil polls cond every 100ms until it holds, failing t after timeout
// with what it waited for and cond's last error.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			last = err
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last error: %v)", what, err, last)
	}
}
