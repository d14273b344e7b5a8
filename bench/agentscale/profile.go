package agentscale

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// freeAddress is a loopback address no one listens on now.
func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// saveProfile writes the agent's heap profile (after a GC) to heap-N.pb.gz
// and heap-N.txt (with the runtime's MemStats), and its goroutines to
// goroutine-N.txt, in the work directory; it returns the goroutine count.
func (r *rig) saveProfile(ctx context.Context, n int) (goroutines string, err error) {
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.pprof+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	heap, err := get("/debug/pprof/heap?gc=1")
	if err != nil {
		return "", fmt.Errorf("agent heap profile: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, fmt.Sprintf("heap-%d.pb.gz", n)), heap, 0o644); err != nil {
		return "", err
	}
	// The text form ends with the runtime's MemStats (# HeapInuse, # Stack).
	text, err := get("/debug/pprof/heap?debug=1")
	if err != nil {
		return "", fmt.Errorf("agent heap profile: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, fmt.Sprintf("heap-%d.txt", n)), text, 0o644); err != nil {
		return "", err
	}
	g, err := get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return "", fmt.Errorf("agent goroutine profile: %w", err)
	}
	// "goroutine profile: total 123"
	if err := os.WriteFile(filepath.Join(r.dir, fmt.Sprintf("goroutine-%d.txt", n)), g, 0o644); err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(g), "\n")
	return strings.TrimPrefix(first, "goroutine profile: total "), nil
}
