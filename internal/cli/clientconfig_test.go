package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCLIConfigIsSavedPrivatelyAndReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.yaml")
	t.Setenv(envConfig, path)
	c, err := loadCLIConfig()
	if err != nil {
		t.Fatal(err)
	}
	c.upsert(cliContext{Name: "a", Address: "http://a:8080", APIKey: "id.secret"})
	c.upsert(cliContext{Name: "b", Address: "http://b:8080", APIKey: "id2.secret"})
	c.upsert(cliContext{Name: "a", Address: "http://a2:8080", APIKey: "id3.secret"})
	c.CurrentContext = "b"
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode = %v, want 0600: it holds API keys", fi.Mode().Perm())
	}
	got, err := loadCLIConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := []cliContext{{Name: "a", Address: "http://a2:8080", APIKey: "id3.secret"}, {Name: "b", Address: "http://b:8080", APIKey: "id2.secret"}}
	if diff := cmp.Diff(want, got.Contexts); diff != "" || got.CurrentContext != "b" {
		t.Errorf("contexts read back (-want +got):\n%s current=%q", diff, got.CurrentContext)
	}
	if !got.remove("b") || got.CurrentContext != "" || got.remove("b") {
		t.Errorf("remove: contexts %v, current %q", got.Contexts, got.CurrentContext)
	}
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:8080":             "http://localhost:8080",
		"http://localhost:8080/":     "http://localhost:8080",
		"https://ferry.example.com":  "https://ferry.example.com",
		"https://example.com/ferry/": "https://example.com/ferry",
	} {
		got, err := normalizeAddress(in)
		if err != nil || got != want {
			t.Errorf("normalizeAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "::"} {
		if _, err := normalizeAddress(bad); err == nil {
			t.Errorf("normalizeAddress(%q) accepted a bad address", bad)
		}
	}
}
