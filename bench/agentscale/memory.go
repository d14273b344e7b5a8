package agentscale

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// MemoryRow is the agent's memory and CPU with Apps applications watched,
// all deployed and SYNCED, over a quiet window (no commits, no edits).
type MemoryRow struct {
	Apps int
	// RSS is VmRSS at the window's end; HWM is VmHWM, the peak since the
	// process started (so it includes deploying the applications).
	RSS, HWM uint64
	// Anon is the RssAnon part of RSS (heap, stacks); the rest is mostly
	// the binary's pages.
	Anon    uint64
	Threads int
	// CPU is the user+system time used over Window.
	CPU, Window time.Duration
	// API is kube-apiserver's request rate over Window.
	API APIRate
}

// CPUPercent is CPU over the window, in percent of one core.
func (m MemoryRow) CPUPercent() float64 { return 100 * m.CPU.Seconds() / m.Window.Seconds() }

// settle is the pause before a quiet window, so the idle agent's first
// sync and the last reports of a step are over.
const settle = 5 * time.Second

// startedAfter is how long after its process start the agent is measured at
// the earliest: its start-up is over by then (the agent gives back the
// binary's start-up pages 30 s after its first sync pass; package procmem).
const startedAfter = time.Minute

// memory reads the agent's memory and its CPU over the quiet window.
func (r *rig) memory(ctx context.Context, n int) (MemoryRow, error) {
	wait := settle
	if p := r.agent.Load(); p != nil {
		wait = max(wait, time.Until(p.started.Add(startedAfter)))
	}
	if !sleep(ctx, wait) {
		return MemoryRow{}, ctx.Err()
	}
	pid := r.currentPID()
	if err := r.alive(); err != nil {
		return MemoryRow{}, err
	}
	r.log.Info("quiet window", "apps", n, "window", r.opts.Window)
	cpu0, err := readCPU(pid)
	if err != nil {
		return MemoryRow{}, err
	}
	api0, err := r.apiRequests(ctx)
	if err != nil {
		return MemoryRow{}, err
	}
	t0 := time.Now()
	if !sleep(ctx, r.opts.Window) {
		return MemoryRow{}, ctx.Err()
	}
	cpu1, err := readCPU(pid)
	if err != nil {
		return MemoryRow{}, fmt.Errorf("the agent exited during the quiet window: %w", err)
	}
	window := time.Since(t0)
	api1, err := r.apiRequests(ctx)
	if err != nil {
		return MemoryRow{}, err
	}
	st, err := readStatus(pid)
	if err != nil {
		return MemoryRow{}, err
	}
	row := MemoryRow{Apps: n, RSS: st.RSS, HWM: st.HWM, Anon: st.Anon, Threads: st.Threads, CPU: cpu1 - cpu0, Window: window, API: rate(api0, api1, window)}
	if r.opts.Profile {
		g, err := r.saveProfile(ctx, n)
		if err != nil {
			return MemoryRow{}, err
		}
		r.log.Info("profile saved", "apps", n, "heap", filepath.Join(r.dir, fmt.Sprintf("heap-%d.pb.gz", n)), "goroutines", g)
	}
	r.log.Info("memory", "apps", n, "rss_mib", mib(row.RSS), "hwm_mib", mib(row.HWM), "anon_mib", mib(row.Anon), "cpu", row.CPU, "threads", row.Threads, "kube_api", row.API.Detail())
	return row, nil
}

// mib is bytes in MiB.
func mib(b uint64) float64 { return float64(b) / (1 << 20) }
