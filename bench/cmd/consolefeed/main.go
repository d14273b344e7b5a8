// Command consolefeed measures the time from an agent's stage-status report
// to the console page's Server-Sent Event, with the hub's change feed and
// with the poll of one second it replaced, and prints a Markdown table for
// bench/RESULTS.md.
//
//	go run ./bench/cmd/consolefeed [-postgres URL] [-redis URL] [-reports 40] [-gap 200ms]
//
// The rows: SQLite, page on the replica that takes the report (the feed
// within one replica); SQLite, page on another replica (nothing carries
// changes between replicas on SQLite, so the page learns of the report
// from its own poll, set to the old 1s: the old behaviour); PostgreSQL
// LISTEN/NOTIFY and Redis pub/sub, page on another replica, with the
// page's own re-read an hour apart so only the feed can deliver.
// PostgreSQL rows run when -postgres (or FERRY_TEST_POSTGRES_URL) is set,
// each in a fresh schema dropped afterwards; Redis rows when -redis (or
// FERRY_TEST_REDIS_URL) is set too.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/ferrycd/ferry/bench/consolefeed"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

func main() {
	pg := flag.String("postgres", os.Getenv("FERRY_TEST_POSTGRES_URL"), "PostgreSQL URL; empty skips the PostgreSQL and Redis rows")
	rd := flag.String("redis", os.Getenv("FERRY_TEST_REDIS_URL"), "Redis URL; empty skips the Redis row")
	reports := flag.Int("reports", 40, "stage reports timed per row")
	gap := flag.Duration("gap", 200*time.Millisecond, "least pause between two reports (plus a random part of a second)")
	flag.Parse()
	if err := run(*pg, *rd, *reports, *gap); err != nil {
		fmt.Fprintln(os.Stderr, "consolefeed bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name  string
	setup consolefeed.Setup
	pg    bool
}

func run(pg, rd string, reports int, gap time.Duration) error {
	ctx := context.Background()
	rows := []row{
		{"SQLite, same replica, change feed (hub.Local)", consolefeed.Setup{SameReplica: true, ConsolePollInterval: time.Hour}, false},
		{"SQLite, other replica, **1 s poll** (the old way)", consolefeed.Setup{ConsolePollInterval: time.Second}, false},
	}
	if pg != "" {
		rows = append(rows, row{"PostgreSQL, other replica, change feed (LISTEN/NOTIFY)", consolefeed.Setup{ConsolePollInterval: time.Hour}, true})
		if rd != "" {
			rows = append(rows, row{"PostgreSQL, other replica, change feed (Redis pub/sub)", consolefeed.Setup{FanoutRedis: rd, ConsolePollInterval: time.Hour}, true})
		}
	}
	fmt.Printf("Console feed: stage report through replica A to the deployment page's SSE event; %d reports per row, %s + [0, 1s) apart; %s, %d CPUs, %s\n\n",
		reports, gap, runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Println("| setup | p50 | p90 | max | mean | report call p50 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		s := r.setup
		s.Reports, s.Gap = reports, gap
		cleanup := func() {}
		if r.pg {
			var err error
			if s.Datastore, cleanup, err = benchkit.FreshSchema(pg); err != nil {
				return err
			}
		}
		res, err := consolefeed.Run(ctx, s)
		cleanup()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		l := res.Latencies
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", r.name,
			round(consolefeed.Percentile(l, 0.5)), round(consolefeed.Percentile(l, 0.9)), round(l[len(l)-1]),
			round(consolefeed.Mean(l)), round(consolefeed.Percentile(res.Calls, 0.5)))
	}
	return nil
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
