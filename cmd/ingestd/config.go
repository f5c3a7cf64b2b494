package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/ingestd/ingestd/configs"
	"github.com/ingestd/ingestd/ingest"
)

// fileConfig is the YAML file: one section per component.
type fileConfig struct {
	ingest.Config `yaml:",inline"`
}

// loadConfig reads the embedded defaults, then path (if any) over them, with
// unknown keys refused.
func loadConfig(path string) (fileConfig, error) {
	c := fileConfig{Config: ingest.DefaultConfig()}
	if err := decodeStrict(configs.Default, &c); err != nil {
		return c, fmt.Errorf("embedded config: %w", err)
	}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := decodeStrict(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func decodeStrict(b []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// commonFlags are the flags most commands share.
type commonFlags struct {
	config  string
	dataDir string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "YAML configuration `file` (default: embedded defaults, see configs/ingestd.yaml)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data `directory` (default from config: ./data)")
}

// load returns the configuration with flags applied.
func (c *commonFlags) load() (fileConfig, error) {
	cfg, err := loadConfig(c.config)
	if err != nil {
		return cfg, err
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	}
	return cfg, cfg.Validate()
}

func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ingestd %s\n\nOptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns a non-negative exit code when the
// command should stop (help asked: 0, bad flags: 2).
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return 2
	}
	return -1
}

// prepare parses a command's flags (common ones plus those extra registers)
// and loads the configuration. code ≥ 0 means the command should exit with it.
func prepare(name, synopsis string, args []string, extra func(*flag.FlagSet)) (cfg fileConfig, code int) {
	fs := newFlagSet(name, synopsis)
	var cf commonFlags
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if code := parseFlags(fs, args); code >= 0 {
		return cfg, code
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return cfg, 2
	}
	return cfg, -1
}
