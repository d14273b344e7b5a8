package testenv

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestMinIOVersionMatchesTheBuildModule(t *testing.T) {
	gomod, err := os.ReadFile("../../hack/minio/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/minio/minio (v\S+)`).FindSubmatch(gomod)
	if m == nil || string(m[1]) != MinIOVersion {
		t.Errorf("hack/minio/go.mod pins github.com/minio/minio %q, MinIOVersion is %s", m, MinIOVersion)
	}
}

func TestFindMinIOSaysHowToBuildIt(t *testing.T) {
	t.Setenv(MinIOBinEnv, t.TempDir())
	_, err := FindMinIO()
	if !errors.Is(err, ErrNoMinIO) || !strings.Contains(err.Error(), "bash hack/minio/build.sh") {
		t.Fatalf("FindMinIO(empty dir) = %v, want ErrNoMinIO naming hack/minio/build.sh", err)
	}
}
