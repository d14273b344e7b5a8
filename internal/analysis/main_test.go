package analysis

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs up to 8 parallel tests unless -parallel says otherwise:
// the analyses mostly wait for their intervals, so more of them at once
// than there are CPUs cost no CPU and save their durations.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", "8"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
