package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature is a commit's author or committer.
type Signature struct {
	Name  string
	Email string
}

// Commit is what a deployment records about the commit it deploys.
type Commit struct {
	// Hash is the full hexadecimal object name.
	Hash string
	// Parents are the parents' full hashes; none for a root commit.
	Parents []string
	// Author wrote the change; AuthorTime is when.
	Author     Signature
	AuthorTime time.Time
	// Committer made the commit; CommitTime is when (the time a push or
	// merge landed it, for most workflows).
	Committer  Signature
	CommitTime time.Time
	// Message is the full message, subject first, without the final newline.
	Message string
}

// Subject returns the first line of the message.
func (c Commit) Subject() string {
	s, _, _ := strings.Cut(c.Message, "\n")
	return s
}

var hashPattern = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)

// fullHashPattern matches a full SHA-1 or SHA-256 commit hash as git prints it.
var fullHashPattern = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// Head returns the commit at the tip of branch as of the last Fetch.
// Errors: model.KindNotFound when the mirror has no such branch,
// model.KindInvalid for a malformed name. Safe for concurrent use.
func (m *Mirror) Head(ctx context.Context, branch string) (Commit, error) {
	hash, err := m.HeadHash(ctx, branch)
	if err != nil {
		return Commit{}, err
	}
	return m.Commit(ctx, hash)
}

// HeadHash returns the hash of the commit at the tip of branch as of the
// last Fetch: Head without reading the commit. Errors as Head's.
func (m *Mirror) HeadHash(ctx context.Context, branch string) (string, error) {
	if !validBranch(branch) {
		return "", invalid("head of repo %s: invalid branch %q", m.id, branch)
	}
	hash, err := m.resolve(ctx, "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("head of repo %s: %w", m.id, err)
	}
	if hash == "" {
		return "", notFound("branch", branch, m.id)
	}
	return hash, nil
}

// Commit returns the commit named by hash (full or abbreviated).
// Errors: model.KindNotFound when the mirror does not hold it (fetch
// first), model.KindInvalid when hash is not hexadecimal. Safe for
// concurrent use.
func (m *Mirror) Commit(ctx context.Context, hash string) (Commit, error) {
	full, err := m.commitArg(ctx, hash)
	if err != nil {
		return Commit{}, err
	}
	out, err := m.read(ctx, "show", "--no-patch", "--no-show-signature",
		"--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", full)
	if err != nil {
		return Commit{}, m.missingCommit(err, hash, "read commit "+hash)
	}
	f := strings.SplitN(string(out), "\x00", 9)
	if len(f) != 9 {
		return Commit{}, fmt.Errorf("read commit %s in repo %s: unexpected output", hash, m.id)
	}
	c := Commit{
		Hash:      f[0],
		Parents:   strings.Fields(f[1]),
		Author:    Signature{Name: f[2], Email: f[3]},
		Committer: Signature{Name: f[5], Email: f[6]},
		Message:   strings.TrimRight(f[8], "\n"),
	}
	if c.AuthorTime, err = time.Parse(time.RFC3339, f[4]); err == nil {
		c.CommitTime, err = time.Parse(time.RFC3339, f[7])
	}
	if err != nil {
		return Commit{}, fmt.Errorf("read commit %s in repo %s: %w", hash, m.id, err)
	}
	return c, nil
}

// ChangedFiles returns the paths that differ between commits from and to,
// sorted, each once: added, modified and deleted files, and both sides of a
// rename. An empty from means every file at to (a first deployment).
// Errors: model.KindNotFound when either commit is missing (the trigger
// may then treat everything as changed). Safe for concurrent use.
func (m *Mirror) ChangedFiles(ctx context.Context, from, to string) ([]string, error) {
	if from == "" {
		return m.ListFiles(ctx, to, "")
	}
	a, err := m.commitArg(ctx, from)
	if err != nil {
		return nil, err
	}
	b, err := m.commitArg(ctx, to)
	if err != nil {
		return nil, err
	}
	out, err := m.read(ctx, "diff-tree", "-r", "-z", "--name-only", "--no-renames", "--no-commit-id", a, b)
	if err != nil {
		return nil, m.missingCommit(err, from+".."+to, "diff "+from+".."+to)
	}
	files := splitNul(out)
	slices.Sort(files)
	return files, nil
}

// ReadFile returns the content of the file at path (slash-separated,
// relative to the repository root) in commit. Errors: model.KindNotFound
// when the commit or the file is missing (a directory counts as missing),
// model.KindInvalid for a path leaving the repository. Safe for concurrent
// use.
func (m *Mirror) ReadFile(ctx context.Context, commit, file string) ([]byte, error) {
	p, err := cleanPath(file)
	if err != nil || p == "" {
		return nil, invalid("read %q in repo %s: invalid path", file, m.id)
	}
	full, err := m.commitArg(ctx, commit)
	if err != nil {
		return nil, err
	}
	out, err := m.read(ctx, "cat-file", "blob", full+":"+p)
	if err != nil {
		if stderrHas(err, missingObject) {
			return nil, notFound("file", p+" at commit "+commit, m.id)
		}
		return nil, fmt.Errorf("read %s at %s in repo %s: %w", p, commit, m.id, err)
	}
	return out, nil
}

// ListFiles returns the paths of the files under dir (slash-separated,
// relative to the repository root; "" for all) in commit, sorted and
// relative to the repository root. A dir that does not exist gives an
// empty list. Errors: model.KindNotFound when the commit is missing. Safe
// for concurrent use.
func (m *Mirror) ListFiles(ctx context.Context, commit, dir string) ([]string, error) {
	d, err := cleanPath(dir)
	if err != nil {
		return nil, invalid("list %q in repo %s: invalid path", dir, m.id)
	}
	full, err := m.commitArg(ctx, commit)
	if err != nil {
		return nil, err
	}
	args := []string{"ls-tree", "-r", "-z", "--name-only", full}
	if d != "" {
		args = append(args, "--", d+"/")
	}
	out, err := m.read(ctx, args...)
	if err != nil {
		return nil, m.missingCommit(err, commit, "list "+dir+" at "+commit)
	}
	return splitNul(out), nil
}

// validBranch reports whether name is a branch name git accepts (the rules
// of git check-ref-format) and nothing else: no revision syntax such as
// main~1 or @{-1}, no option.
func validBranch(name string) bool {
	if name == "" || name == "@" || name[0] == '-' || strings.HasSuffix(name, ".lock") ||
		strings.HasSuffix(name, ".") || strings.Contains(name, "..") || strings.Contains(name, "@{") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part[0] == '.' {
			return false
		}
	}
	return true
}

// commitArg returns the full hash of the commit hash names, for a command
// that reads it: a full hash as it is, without a git process (the command
// fails on a commit the mirror lacks; see missingCommit), an abbreviated
// one resolved.
func (m *Mirror) commitArg(ctx context.Context, hash string) (string, error) {
	if fullHashPattern.MatchString(hash) {
		return hash, nil
	}
	return m.resolveCommit(ctx, hash)
}

// missingCommit turns the failure of a command given commit into
// model.KindNotFound when git says an object is missing; other errors are
// wrapped with what.
func (m *Mirror) missingCommit(err error, commit, what string) error {
	if stderrHas(err, missingObject) {
		return notFound("commit", commit, m.id)
	}
	return fmt.Errorf("%s in repo %s: %w", what, m.id, err)
}

// resolveCommit returns the full hash of the commit hash names, checking
// that the mirror holds it.
func (m *Mirror) resolveCommit(ctx context.Context, hash string) (string, error) {
	if !hashPattern.MatchString(hash) {
		return "", invalid("commit %q in repo %s: not a commit hash", hash, m.id)
	}
	full, err := m.resolve(ctx, hash)
	if err != nil {
		return "", fmt.Errorf("resolve commit %s in repo %s: %w", hash, m.id, err)
	}
	if full == "" {
		return "", notFound("commit", hash, m.id)
	}
	return full, nil
}

// resolve returns the commit rev names, or "" when there is none.
func (m *Mirror) resolve(ctx context.Context, rev string) (string, error) {
	out, err := m.read(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if exitCode(err) == 1 {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// read runs a read-only command on the mirror.
func (m *Mirror) read(ctx context.Context, args ...string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.git.run(ctx, call{args: args, gitDir: m.dir})
}

// cleanPath turns a repository path into git's form: slash-separated,
// relative, without "." elements. It returns "" for the root and an error
// for a path that leaves the repository.
func cleanPath(p string) (string, error) {
	c := path.Clean(strings.TrimPrefix(p, "/"))
	switch {
	case strings.ContainsRune(p, 0), c == "..", strings.HasPrefix(c, "../"):
		return "", errors.New("invalid path")
	case c == ".":
		return "", nil
	}
	return c, nil
}

func splitNul(out []byte) []string {
	out = bytes.TrimSuffix(out, []byte{0})
	if len(out) == 0 {
		return []string{}
	}
	return strings.Split(string(out), "\x00")
}

// ReadFiles returns the contents of files (slash-separated paths from the
// repository root) in commit, by path, read by one git process however
// many there are. A path that is missing, or names a directory, is left
// out of the map. Errors: model.KindNotFound when the commit is missing,
// model.KindInvalid for a path leaving the repository. Safe for concurrent
// use.
func (m *Mirror) ReadFiles(ctx context.Context, commit string, files []string) (map[string][]byte, error) {
	full, err := m.commitArg(ctx, commit)
	if err != nil {
		return nil, err
	}
	var in strings.Builder
	paths := make([]string, 0, len(files))
	for _, f := range files {
		p, err := cleanPath(f)
		if err != nil || p == "" || strings.ContainsAny(p, "\n\r") {
			return nil, invalid("read %q in repo %s: invalid path", f, m.id)
		}
		paths = append(paths, p)
		in.WriteString(full + ":" + p + "\n")
	}
	out := make(map[string][]byte, len(paths))
	if len(paths) == 0 {
		return out, nil
	}
	m.mu.RLock()
	raw, err := m.git.run(ctx, call{args: []string{"cat-file", "--batch"}, gitDir: m.dir, stdin: strings.NewReader(in.String())})
	m.mu.RUnlock()
	if err != nil {
		return nil, m.missingCommit(err, commit, "read files at "+commit)
	}
	// Per path: "<oid> <type> <size>\n<content>\n", or "<name> missing\n".
	for _, p := range paths {
		header, rest, ok := bytes.Cut(raw, []byte{'\n'})
		if !ok {
			return nil, fmt.Errorf("read files at %s in repo %s: output cut short", commit, m.id)
		}
		fields := strings.Fields(string(header))
		if len(fields) != 3 {
			raw = rest // "<name> missing" or "ambiguous"
			continue
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil || size < 0 || size+1 > len(rest) {
			return nil, fmt.Errorf("read files at %s in repo %s: unexpected output", commit, m.id)
		}
		if fields[1] == "blob" {
			out[p] = rest[:size:size]
		}
		raw = rest[size+1:]
	}
	if len(out) == 0 {
		// Nothing found may mean the commit itself is missing.
		if _, err := m.resolveCommit(ctx, full); err != nil {
			return nil, err
		}
	}
	return out, nil
}
