// Command testsummary reads `go test -json` on its standard input and
// prints what `go test` prints without -json (a line per package, the
// output of failing tests, build errors), then a summary of every skipped
// test and why, so that a skip cannot pass unseen. It exits 1 when a test,
// a package or a build failed. hack/test.sh pipes the suite through it:
//
//	go test -json ./... | go run ./hack/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail
}

// skip is a skipped test and the reason it logged.
type skip struct {
	test, reason string
}

// location is the "file.go:12: " prefix of a test's log line.
var location = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// summarize copies the readable part of the stream in to out, then the
// summary of skips; failed says whether anything failed.
func summarize(in io.Reader, out io.Writer) (failed bool, err error) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	buffered := map[string][]string{} // package + test → its output so far
	var order []string                // keys of buffered, first seen first
	var skips []skip
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line) // not an event: as it came
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Action == "build-fail":
			failed = true
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" {
				fmt.Fprint(w, e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			// Tests that never ended (a panic, a timeout) show here.
			failed = true
			for _, k := range order {
				if strings.HasPrefix(k, e.Package+" ") && buffered[k] != nil {
					printTest(w, buffered[k])
					delete(buffered, k)
				}
			}
		case e.Test == "":
		case e.Action == "output":
			if _, ok := buffered[key]; !ok {
				order = append(order, key)
			}
			buffered[key] = append(buffered[key], e.Output)
		case e.Action == "fail":
			failed = true
			printTest(w, buffered[key])
			delete(buffered, key)
		case e.Action == "skip":
			skips = append(skips, skip{test: strings.TrimPrefix(e.Package, module) + " " + e.Test, reason: reason(buffered[key])})
			delete(buffered, key)
		case e.Action == "pass":
			delete(buffered, key)
		}
	}
	if err := sc.Err(); err != nil {
		return true, fmt.Errorf("read the test output: %w", err)
	}
	printSkips(w, skips)
	return failed, nil
}

// module is the prefix the summary leaves off package paths.
const module = "github.com/ferrycd/ferry/"

// printTest prints a failed test's output but the framing lines of -v.
func printTest(w io.Writer, lines []string) {
	for _, l := range lines {
		if !isFrame(l) || strings.HasPrefix(strings.TrimSpace(l), "--- FAIL") {
			fmt.Fprint(w, l)
		}
	}
}

// isFrame reports whether l is a line go test -v adds around a test.
func isFrame(l string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- SKIP", "--- FAIL"} {
		if strings.HasPrefix(strings.TrimSpace(l), p) {
			return true
		}
	}
	return false
}

// reason is what a skipped test logged, without the file:line prefixes.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		if isFrame(l) {
			continue
		}
		if l = strings.TrimSpace(location.ReplaceAllString(l, "")); l != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

// printSkips prints the skipped tests grouped by reason, most first.
func printSkips(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "== skipped: none")
		return
	}
	byReason := map[string][]string{}
	for _, s := range skips {
		byReason[s.reason] = append(byReason[s.reason], s.test)
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := reasons[i], reasons[j]
		if len(byReason[a]) != len(byReason[b]) {
			return len(byReason[a]) > len(byReason[b])
		}
		return a < b
	})
	fmt.Fprintf(w, "== skipped: %d tests, by reason\n", len(skips))
	for _, r := range reasons {
		tests := byReason[r]
		sort.Strings(tests)
		fmt.Fprintf(w, "%d × %s\n", len(tests), r)
		for _, t := range tests {
			fmt.Fprintf(w, "    %s\n", t)
		}
	}
}
