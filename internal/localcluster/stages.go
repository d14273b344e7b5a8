package localcluster

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

// ownStages are kwok Stages of Ferry's own, written into the cluster's kwok
// folder at each launch and passed to kwok after the ones build.sh copies.
// They live in the Go binary, not in build.sh's cache, so that changing
// one never forces the 15-minute rebuild of the binaries.
//
//go:embed stages/*.yaml
var ownStages embed.FS

// writeOwnStages writes ownStages into dir and returns their paths.
func writeOwnStages(dir string) ([]string, error) {
	entries, err := ownStages.ReadDir("stages")
	if err != nil {
		return nil, fmt.Errorf("read kwok stages: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("write kwok stages: %w", err)
	}
	paths := make([]string, 0, len(entries))
	for _, e := range entries {
		b, err := ownStages.ReadFile("stages/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read kwok stage %s: %w", e.Name(), err)
		}
		p := filepath.Join(dir, e.Name())
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, fmt.Errorf("write kwok stages: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
