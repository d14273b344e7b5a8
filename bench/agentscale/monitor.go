package agentscale

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"
)

// sampleEvery is the period of the RSS samples.
const sampleEvery = 5 * time.Second

// sampler records the agent's RSS every sampleEvery into a CSV file
// (seconds since start, applications, pid, RSS bytes), to show growth
// between the measured points, and keeps the peak.
type sampler struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	max   uint64
}

func startSampler(file string, pid func() int, apps func() int) *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		f, err := os.Create(file)
		if err != nil {
			return
		}
		defer f.Close()
		fmt.Fprintln(f, "seconds,apps,pid,rss_bytes")
		begin := time.Now()
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
			p := pid()
			if p == 0 {
				continue
			}
			st, err := readStatus(p)
			if err != nil {
				continue
			}
			s.mu.Lock()
			s.max = max(s.max, st.RSS)
			s.mu.Unlock()
			fmt.Fprintf(f, "%.0f,%d,%d,%d\n", time.Since(begin).Seconds(), apps(), p, st.RSS)
		}
	}()
	return s
}

func (s *sampler) stop() {
	close(s.stopc)
	<-s.done
}

// peak is the highest RSS sampled.
func (s *sampler) peak() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// LogSummary counts the agent's WARN and ERROR lines by message.
type LogSummary struct {
	Lines int
	// ByMessage counts warnings and errors per "LEVEL msg".
	ByMessage map[string]int
	// Examples holds the first line of each message.
	Examples map[string]string
}

// Top returns up to n messages, most frequent first.
func (l LogSummary) Top(n int) []string {
	keys := make([]string, 0, len(l.ByMessage))
	for k := range l.ByMessage {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if l.ByMessage[keys[i]] != l.ByMessage[keys[j]] {
			return l.ByMessage[keys[i]] > l.ByMessage[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys[:min(n, len(keys))]
}

// logLine matches slog's text format: level=WARN msg="..." or msg=word.
var logLine = regexp.MustCompile(`level=(WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// summariseLogs reads the agent logs matching pattern.
func summariseLogs(pattern string) LogSummary {
	sum := LogSummary{ByMessage: map[string]int{}, Examples: map[string]string{}}
	files, _ := filepath.Glob(pattern)
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			sum.Lines++
			m := logLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			key := m[1] + " " + m[2]
			if sum.ByMessage[key] == 0 {
				sum.Examples[key] = sc.Text()
			}
			sum.ByMessage[key]++
		}
		f.Close()
	}
	return sum
}
