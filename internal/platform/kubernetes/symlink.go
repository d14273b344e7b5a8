package kubernetes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkSymlinks walks dir, a directory inside root, and fails on the first
// symbolic link that resolves outside root or not at all, naming it
// relative to root. Links to directories inside root are walked too. Helm's
// chart loader follows links as it finds them, so a chart must be checked
// before it is loaded: a link to /etc/passwd or to the agent's key would
// otherwise end up in a rendered manifest (as CVE-2022-24730 did to Argo
// CD).
func checkSymlinks(root, dir string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var walk func(dir, shown string) error
	walk = func(dir, shown string) error {
		if seen[dir] {
			return nil
		}
		seen[dir] = true
		return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			rel, _ := filepath.Rel(dir, path)
			name := filepath.ToSlash(filepath.Join(shown, rel))
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("%s is a symbolic link to nothing; remove it or commit what it points to", name)
				}
				return fmt.Errorf("%s: %w", name, err)
			}
			if !within(realRoot, real) {
				return fmt.Errorf("%s is a symbolic link to a file outside the repository; Ferry reads only files inside it: commit the file instead of a link", name)
			}
			if fi, err := os.Stat(real); err == nil && fi.IsDir() {
				return walk(real, name)
			}
			return nil
		})
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	return walk(real, filepath.ToSlash(rel))
}
