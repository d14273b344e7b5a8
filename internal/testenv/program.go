package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// findInstalled returns the path of a program that a hack/*/install.sh
// script installs from a Debian package: $binEnv, or else defaultBin, where
// the package puts it. The error wraps errNotFound and says to run script
// and set binEnv to the path it prints.
func findInstalled(binEnv, defaultBin, script string, errNotFound error) (string, error) {
	bin, from := os.Getenv(binEnv), "$"+binEnv
	if bin == "" {
		bin, from = defaultBin, "the Debian package's path"
	}
	if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: no program at %s (from %s); run `bash %s` and set %s to the path it prints",
			errNotFound, bin, from, script, binEnv)
	}
	return bin, nil
}

// skipMissing ends t because what it needs is missing, as err says: it
// skips t, or fails it when requireEnv is set to 1 (as CI does).
func skipMissing(t testing.TB, what, requireEnv string, err error) {
	t.Helper()
	if os.Getenv(requireEnv) != "1" {
		t.Skipf("skipping, this test needs %s: %v (%s=1 fails instead of skipping)", what, err, requireEnv)
	}
	t.Fatalf("this test needs %s and %s=1 forbids skipping: %v", what, requireEnv, err)
}

// RequireGCCEnv names the variable that, set to 1 (as CI does), makes tests
// that need gcc (cgo, the external linker) fail instead of skip without it.
const RequireGCCEnv = "FERRY_TEST_REQUIRE_GCC"

// LookPath returns the path of the program name on $PATH; without it, it
// skips t, or fails it when requireEnv is set to 1.
func LookPath(t testing.TB, name, requireEnv string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipMissing(t, name, requireEnv, err)
	}
	return path
}
