package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/ferrycd/ferry/internal/config"
)

// ErrNoSecretManagement is the error for an application with encryption
// on an agent that has no key to decrypt it with.
var ErrNoSecretManagement = errors.New("this agent has no secretManagement; the values are not decrypted: " +
	"add spec.secretManagement (type KEY_PAIR) to the agent config, or deploy the application with an agent that has it")

// DecryptAll decrypts every encryptedSecrets value of enc. An error names
// the secret, never its value.
func DecryptAll(enc *config.Encryption, d Decrypter) (map[string]string, error) {
	if d == nil {
		return nil, ErrNoSecretManagement
	}
	names := make([]string, 0, len(enc.EncryptedSecrets))
	for n := range enc.EncryptedSecrets {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := d.Decrypt(enc.EncryptedSecrets[n])
		if err != nil {
			return nil, fmt.Errorf("encryption.encryptedSecrets.%s: %w", n, err)
		}
		out[n] = v
	}
	return out, nil
}

// Render rewrites each of targets, paths relative to appDir, as a Go
// text/template given {{ .encryptedSecrets.NAME }}. A target must be a
// regular file inside appDir (after symlinks); a template naming a secret
// values does not have is an error naming the file, line and name.
func Render(appDir string, targets []string, values map[string]string) error {
	root, err := filepath.EvalSymlinks(appDir)
	if err != nil {
		return fmt.Errorf("decryption targets: application dir: %w", err)
	}
	data := map[string]any{"encryptedSecrets": values}
	for _, t := range targets {
		if !filepath.IsLocal(filepath.FromSlash(t)) {
			return fmt.Errorf("encryption.decryptionTargets: %s is not inside the application directory: give a path relative to it", t)
		}
		path, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(t)))
		if err != nil {
			return fmt.Errorf("encryption.decryptionTargets: %s: %w", t, unwrapPath(err))
		}
		if rel, err := filepath.Rel(root, path); err != nil || !filepath.IsLocal(rel) {
			return fmt.Errorf("encryption.decryptionTargets: %s leads outside the application directory (a symlink?)", t)
		}
		if err := renderFile(path, t, data); err != nil {
			return err
		}
	}
	return nil
}

func renderFile(path, name string, data map[string]any) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("encryption.decryptionTargets: %s: %w", name, unwrapPath(err))
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("encryption.decryptionTargets: %s is not a regular file", name)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("encryption.decryptionTargets: %s: %w", name, unwrapPath(err))
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return fmt.Errorf("encryption.decryptionTargets: %w", err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		// The error of text/template names the file, line and key, never
		// the values.
		return fmt.Errorf("encryption.decryptionTargets: %w (is the name in encryption.encryptedSecrets?)", err)
	}
	return os.WriteFile(path, out.Bytes(), info.Mode().Perm())
}

// unwrapPath drops the absolute path of a *fs.PathError, which would
// show the temporary copy rather than the repository.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Prepared is a private copy of a repository checkout whose decryption
// targets hold the decrypted values.
type Prepared struct {
	// RepoDir and AppDir are the copy's paths of the checkout and of the
	// application's directory.
	RepoDir, AppDir string
	tmp             string
	// origRepoDir is the checkout the copy was made from; values are the
	// decrypted values, for Redact.
	origRepoDir string
	values      []string
}

// Redact returns err with every decrypted value replaced by "***" and the
// copy's path by the checkout's, so an error of whatever rendered the copy
// (a YAML parser quoting a line, Helm naming a file) carries neither a
// value nor a temporary path into a stage log or a deployment's reason.
// Errors without either come back as they are.
func (p *Prepared) Redact(err error) error {
	if err == nil || p == nil || p.tmp == "" {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), p.RepoDir, p.origRepoDir)
	for _, v := range p.values {
		if v != "" {
			msg = strings.ReplaceAll(msg, v, "***")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// Close removes the copy, and the values with it.
func (p *Prepared) Close() error {
	if p == nil || p.tmp == "" {
		return nil
	}
	return os.RemoveAll(p.tmp)
}

// Prepare copies the checkout repoDir (all but .git) into a private
// temporary directory and renders enc's decryption targets there, so the
// platform renders the application from files with the values while the
// shared checkout never holds them. appDir is absolute inside repoDir. The
// caller renders from the returned paths and closes the copy. With enc
// nil or without targets it returns the paths as given and copies nothing.
func Prepare(repoDir, appDir string, enc *config.Encryption, d Decrypter) (*Prepared, error) {
	if enc == nil || len(enc.DecryptionTargets) == 0 {
		return &Prepared{RepoDir: repoDir, AppDir: appDir}, nil
	}
	values, err := DecryptAll(enc, d)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(repoDir, appDir)
	if err != nil || (rel != "." && !filepath.IsLocal(rel)) {
		return nil, fmt.Errorf("decrypt secrets: application dir %s is not inside %s", appDir, repoDir)
	}
	tmp, err := os.MkdirTemp("", "ferry-secrets-")
	if err != nil {
		return nil, fmt.Errorf("decrypt secrets: %w", err)
	}
	p := &Prepared{RepoDir: filepath.Join(tmp, "repo"), tmp: tmp, origRepoDir: repoDir}
	// Longest first, so a value holding another is replaced whole.
	p.values = slices.SortedFunc(maps.Values(values), func(a, b string) int { return len(b) - len(a) })
	p.AppDir = filepath.Join(p.RepoDir, rel)
	if err := copyTree(repoDir, p.RepoDir); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("decrypt secrets: copy the checkout: %w", err)
	}
	if err := Render(p.AppDir, enc.DecryptionTargets, values); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// copyTree copies src to dst: directories, regular files with their
// modes, and symlinks as symlinks; .git is left out.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case e.IsDir() && e.Name() == ".git" && rel != ".":
			return fs.SkipDir
		case e.IsDir():
			return os.MkdirAll(to, 0o700)
		case e.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if filepath.IsAbs(link) && strings.HasPrefix(link, src+string(filepath.Separator)) {
				// Keep a link into the checkout inside the copy.
				link = filepath.Join(dst, strings.TrimPrefix(link, src))
			}
			return os.Symlink(link, to)
		case e.Type().IsRegular():
			return copyFile(path, to)
		}
		return nil // sockets, devices: never manifests
	})
}

func copyFile(from, to string) error {
	info, err := os.Stat(from)
	if err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
