package testenv

import (
	"fmt"
	"os"
	"testing"
)

// RedisEnv names the variable that points the tests at a Redis server,
// such as redis://127.0.0.1:6379/0.
const RedisEnv = "FERRY_TEST_REDIS_URL"

// RequireRedisEnv names the variable that, set to 1 (as CI does), makes
// tests that need Redis fail instead of skip when RedisEnv is unset.
const RequireRedisEnv = "FERRY_TEST_REQUIRE_REDIS"

// RedisURL returns the URL of the Redis server named by
// FERRY_TEST_REDIS_URL. The test is skipped, saying why, when the variable
// is not set (failed under FERRY_TEST_REQUIRE_REDIS=1). Tests share the
// server: each uses channels or keys of its own.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(RedisEnv)
	if u == "" {
		skipMissing(t, "Redis", RequireRedisEnv, fmt.Errorf("%s is not set (e.g. redis://127.0.0.1:6379/0)", RedisEnv))
	}
	return u
}
