package testenv

import (
	"os"
	"testing"
)

// RedisEnv names the variable that points the tests at a Redis server,
// such as redis://127.0.0.1:6379/0.
const RedisEnv = "FERRY_TEST_REDIS_URL"

// RedisURL returns the URL of the Redis server named by
// FERRY_TEST_REDIS_URL. The test is skipped, saying why, when the variable
// is not set. Tests share the server: each uses channels or keys of its
// own.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(RedisEnv)
	if u == "" {
		t.Skipf("Redis tests need %s (e.g. redis://127.0.0.1:6379/0)", RedisEnv)
	}
	return u
}
