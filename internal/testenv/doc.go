// Package testenv starts the real parts Ferry's tests run against — the local
// Kubernetes cluster, PostgreSQL schemas, Redis, MinIO, Prometheus, browsers
// — and small helpers around them (WaitFor, LogWriter, Git). Every starter
// isolates its caller (own namespace, own schema, temp dirs) and cleans up
// with t.Cleanup.
//
// # Rules for Ferry's tests
//
// TEST-RULE no-wall-clock-bounds: a test never asserts that something took
// less than a fixed time (`took > 3*time.Second`, `time.Since(start) <`,
// a select on time.After as the check itself). The machine runs tests in
// parallel on two cores beside other builds; any such bound breaks under
// load. Assert order and causality instead: events, counters, states, log
// lines, a signal the process recorded, a status that only the cause under
// test can produce. Lower bounds ("not before its duration") hold under any
// load and are fine, as is a limit computed from a time measured in the
// same test (a floor). A generous timeout that only catches a hang (WaitFor's
// deadline, a minute in a select) is a guard, not an assertion, and its
// message says so. Find offenders with
//
//	grep -rn 'time.Since\|< time\.\|> time\.\|Elapsed\|took' --include=*_test.go .
//
// TEST-RULE no-silent-skips: a test skips only when what it needs is
// missing, through a starter here that names a FERRY_TEST_REQUIRE_* switch
// (KUBE, POSTGRES, REDIS, MINIO, PROMETHEUS, CHROMIUM, FIREFOX, GCC) which
// turns the skip into a failure; .ci/run sets them all, and hack/test.sh
// ends with a summary of every skip and its reason. What can always be
// present is made present instead (time/tzdata for time zones).
//
// TEST-RULE no-sleeps: wait on events and conditions (WaitFor, channels),
// never on time.Sleep.
package testenv
