package analysis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ferrycd/ferry/internal/platform"
)

// analyzer runs one metric or HTTP check at its interval.
type analyzer struct {
	id   string // metrics[0], https[1]: the key of its failure count
	name string // id, with the template it comes from, for people
	http bool

	interval     time.Duration
	failureLimit int
	skipOnNoData bool
	// evaluate checks once; start is when the analysis began.
	evaluate func(ctx context.Context, start time.Time) (verdict, error)
}

// verdict is the outcome of one evaluation, detail saying it in words
// (values, expected, comparison).
type verdict struct {
	pass   bool
	detail string
}

// run evaluates at start + k×interval (k ≥ 1) until the deadline, so that
// a resumed analysis keeps the schedule it began with, and returns an
// error naming the check once its failures exceed its failureLimit;
// failures is the count so far, from the stage's metadata. When the
// deadline has passed already (the agent was away), it evaluates once
// more now rather than end unchecked. It returns ctx's error when ctx
// ends first.
func (a *analyzer) run(ctx context.Context, in platform.StageInput, log platform.Logger, start, deadline time.Time, failures int) error {
	if failures > a.failureLimit {
		return fmt.Errorf("%s failed %s before the agent restarted, more than its failureLimit %d", a.name, times(failures), a.failureLimit)
	}
	now := time.Now()
	late := !now.Before(deadline)
	k := int64(1)
	if elapsed := now.Sub(start); elapsed > 0 {
		k = int64(elapsed/a.interval) + 1
	}
	if late {
		log.Info(fmt.Sprintf("%s: the analysis's end passed while the agent was away: checking once more", a.name))
	}
	for {
		if !late {
			at := start.Add(time.Duration(k) * a.interval)
			k++
			if at.After(deadline) {
				return nil
			}
			if err := sleepUntil(ctx, at); err != nil {
				return err
			}
		}
		v, err := a.evaluate(ctx, start)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, errNoPrevious):
			log.Info(fmt.Sprintf("%s: %v: it passes, as on a first deployment", a.name, err))
			return nil
		case errors.Is(err, errNoData) && a.skipOnNoData:
			log.Info(fmt.Sprintf("%s: %v: skipped (skipOnNoData)", a.name, err))
			if late {
				return nil
			}
			continue
		case err == nil && v.pass:
			log.Info(fmt.Sprintf("%s: %s: pass", a.name, v.detail))
			if late {
				return nil
			}
			continue
		}
		failures++
		why := v.detail
		if err != nil {
			why = err.Error()
			if errors.Is(err, errNoData) && !a.http {
				why += " (skipOnNoData would skip it)"
			}
		}
		log.Error(fmt.Sprintf("%s: %s: fail (%d of failureLimit %d)", a.name, why, failures, a.failureLimit))
		if failures > a.failureLimit {
			return fmt.Errorf("%s failed %s, more than its failureLimit %d; last: %s", a.name, times(failures), a.failureLimit, why)
		}
		if perr := in.Metadata.Put(ctx, map[string]string{MetaFailuresPrefix + a.id: strconv.Itoa(failures)}); perr != nil && ctx.Err() == nil {
			log.Info(fmt.Sprintf("%s: could not record its failure count, which a restarted agent would start again from: %v", a.name, perr))
		}
		if late {
			return nil
		}
	}
}

// storedFailures returns an analyzer's failure count recorded in the
// stage's metadata, 0 when there is none.
func storedFailures(in platform.StageInput, id string) int {
	v, ok := in.Metadata.Get(MetaFailuresPrefix + id)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// sleepUntil waits until t or until ctx ends, returning ctx's error then.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// times writes a count of failures: once, twice, 3 times.
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}
