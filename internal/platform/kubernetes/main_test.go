package kubernetes

import (
	"testing"

	"github.com/ferrycd/ferry/internal/testenv"
)

// TestMain shares one local cluster among the tests that call testenv.Kube;
// rendering tests never start it.
func TestMain(m *testing.M) { testenv.RunWithKube(m) }
