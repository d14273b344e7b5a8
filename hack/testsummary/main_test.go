package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// testdata/stream.json is `go test -json -count=1 ./...` of a small module
// with a passing, a failing, a panicking and a skipping test (two skips for
// one reason, one in a subtest), a package that does not build and one
// without tests.

func TestASuiteWithFailuresAndSkips(t *testing.T) {
	stream, err := os.ReadFile("testdata/stream.json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	failed, err := summarize(bytes.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("failed = false for a suite with failures")
	}
	got := out.String()
	for _, want := range []string{
		"ok  \texample.com/demo/a\t",
		"?   \texample.com/demo/e\t[no test files]\n",
		"    b_test.go:7: want 2, got 3\n--- FAIL: TestFails (",
		"FAIL\texample.com/demo/b\t",
		"d/d_test.go:5:37: undefined: undefined\nFAIL\texample.com/demo/d [build failed]\n",
		"    c_test.go:6: before the panic\n",
		"panic: boom",
		"== skipped: 3 tests, by reason\n" +
			"2 × skipping, this test needs PostgreSQL: FERRY_TEST_POSTGRES_URL is not set (FERRY_TEST_REQUIRE_POSTGRES=1 fails instead of skipping)\n" +
			"    example.com/demo/a TestNeedsPostgres\n    example.com/demo/b TestAlsoNeedsPostgres\n" +
			"1 × no gcc\n    example.com/demo/a TestSub/one\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%s", want, got)
		}
	}
	for _, noise := range []string{"=== RUN", "--- PASS", "--- SKIP", "quiet unless it fails", "PASS\n"} {
		if strings.Contains(got, noise) {
			t.Errorf("the output shows %q, which go test without -json does not:\n%s", noise, got)
		}
	}
}

func TestAPassingSuite(t *testing.T) {
	stream, err := os.ReadFile("testdata/stream.json")
	if err != nil {
		t.Fatal(err)
	}
	// Only package a: a pass and two skips.
	var in bytes.Buffer
	for _, line := range strings.SplitAfter(string(stream), "\n") {
		if strings.Contains(line, `"Package":"example.com/demo/a"`) {
			in.WriteString(line)
		}
	}
	var out bytes.Buffer
	failed, err := summarize(&in, &out)
	if err != nil || failed {
		t.Fatalf("failed = %v, %v for a passing suite:\n%s", failed, err, out.String())
	}
	if want := "ok  \texample.com/demo/a\t"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("the output starts %q, want %q", out.String(), want)
	}
	if !strings.Contains(out.String(), "== skipped: 2 tests, by reason\n") {
		t.Errorf("no summary of the 2 skips:\n%s", out.String())
	}
}

func TestNoSkips(t *testing.T) {
	var out bytes.Buffer
	in := `{"Action":"run","Package":"p","Test":"TestX"}
{"Action":"output","Package":"p","Test":"TestX","Output":"=== RUN   TestX\n"}
{"Action":"pass","Package":"p","Test":"TestX"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`
	if failed, err := summarize(strings.NewReader(in), &out); err != nil || failed {
		t.Fatalf("failed = %v, %v", failed, err)
	}
	if got, want := out.String(), "ok  \tp\t0.1s\n== skipped: none\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
