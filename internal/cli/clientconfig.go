package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/goccy/go-yaml"

	"github.com/ferrycd/ferry/internal/config"
)

// Where the CLI keeps its contexts: $FERRY_CONFIG, or config.yaml in the
// user config directory (~/.config/ferry on Linux).
const (
	envConfig  = "FERRY_CONFIG"
	envContext = "FERRY_CONTEXT"
	envAddress = "FERRY_ADDRESS"
	envAPIKey  = "FERRY_API_KEY"

	cliConfigKind = "CLIConfig"
)

// cliConfig is the CLI's file of contexts. It holds API keys, so it is
// written with mode 0600.
type cliConfig struct {
	APIVersion     string       `yaml:"apiVersion"`
	Kind           string       `yaml:"kind"`
	CurrentContext string       `yaml:"currentContext,omitempty"`
	Contexts       []cliContext `yaml:"contexts,omitempty"`

	path string
}

// cliContext is one control plane the CLI can talk to.
type cliContext struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	APIKey  string `yaml:"apiKey"`
}

// cliConfigPath returns where the contexts file is.
func cliConfigPath() (string, error) {
	if p := os.Getenv(envConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config directory (set %s to a file path): %w", envConfig, err)
	}
	return filepath.Join(dir, "ferry", "config.yaml"), nil
}

// loadCLIConfig reads the contexts file; a missing file is an empty config.
func loadCLIConfig() (*cliConfig, error) {
	path, err := cliConfigPath()
	if err != nil {
		return nil, err
	}
	c := &cliConfig{path: path}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err := config.ReadFile(path, c); err != nil {
		return nil, usageError{fmt.Errorf("%w (fix or delete the file, then run ferry login again)", err)}
	}
	c.path = path
	if c.Kind != "" && c.Kind != cliConfigKind {
		return nil, usagef("%s: kind is %q, want %s", path, c.Kind, cliConfigKind)
	}
	return c, nil
}

// save writes the file atomically with mode 0600.
func (c *cliConfig) save() error {
	c.APIVersion, c.Kind = config.APIVersionFerry, cliConfigKind
	data, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode %s: %w", c.path, err)
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

// find returns the context called name, or nil.
func (c *cliConfig) find(name string) *cliContext {
	i := slices.IndexFunc(c.Contexts, func(x cliContext) bool { return x.Name == name })
	if i < 0 {
		return nil
	}
	return &c.Contexts[i]
}

// upsert stores ctx, replacing a context of the same name.
func (c *cliConfig) upsert(ctx cliContext) {
	if cur := c.find(ctx.Name); cur != nil {
		*cur = ctx
		return
	}
	c.Contexts = append(c.Contexts, ctx)
}

// remove deletes the context called name and reports whether it was there.
func (c *cliConfig) remove(name string) bool {
	n := len(c.Contexts)
	c.Contexts = slices.DeleteFunc(c.Contexts, func(x cliContext) bool { return x.Name == name })
	if c.CurrentContext == name {
		c.CurrentContext = ""
	}
	return len(c.Contexts) != n
}
