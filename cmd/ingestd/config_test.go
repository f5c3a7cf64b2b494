package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ingestd/ingestd/configs"
	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/httpapi"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/ingest/syslogd"
)

// The documented example must state exactly the built-in defaults: the
// report and storage sections the command's, the others each component's
// (TestComponentDefaultsAreTheFileDefaults).
func TestEmbeddedConfigIsTheDefaults(t *testing.T) {
	var c fileConfig
	if err := decodeStrict(configs.Default, &c); err != nil {
		t.Fatal(err)
	}
	if c.Storage.DeleteAfter != 24*time.Hour || c.Storage.Interval != 10*time.Second || c.NodeID != "" {
		t.Fatalf("configs/ingestd.yaml storage section differs from the built-in defaults: %+v", c.Storage)
	}
	if want := defaultReportConfig(); !reflect.DeepEqual(c.Report, want) {
		t.Fatalf("configs/ingestd.yaml report section differs from defaultReportConfig():\n yaml %+v\n code %+v", c.Report, want)
	}
	// And it documents every key: each yaml tag appears in the file.
	var m map[string]any
	yaml.Unmarshal(configs.Default, &m)
	var walk func(reflect.Type, map[string]any, string)
	walk = func(ty reflect.Type, m map[string]any, path string) {
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if f.Anonymous && strings.Contains(f.Tag.Get("yaml"), "inline") {
				walk(f.Type, m, path)
				continue
			}
			if tag == "" || tag == "-" {
				continue
			}
			v, ok := m[tag]
			if !ok {
				t.Errorf("configs/ingestd.yaml does not document %s%s", path, tag)
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.Name() != "Duration" {
				sub, _ := v.(map[string]any)
				walk(f.Type, sub, path+tag+".")
			}
		}
	}
	walk(reflect.TypeOf(fileConfig{}), m, "")
}

// Each component's zero Config means what configs/ingestd.yaml says, field
// by field, so a component used alone behaves as the daemon does. The
// core's settings where 0 means off are the exception: the file turns
// them on (disk.min_free, segments.seal_grace and seal_idle,
// rejected.keep), and retention is off in both.
func TestComponentDefaultsAreTheFileDefaults(t *testing.T) {
	var c fileConfig
	if err := decodeStrict(configs.Default, &c); err != nil {
		t.Fatal(err)
	}
	if got, want := c.httpConfig(), (httpapi.Config{}).WithDefaults(); got != want {
		t.Errorf("http:\n file %+v\n zero %+v", got, want)
	}
	if got, want := c.syslogConfig(), (syslogd.Config{}).WithDefaults(); got != want {
		t.Errorf("syslog:\n file %+v\n zero %+v", got, want)
	}
	if got, want := c.tailConfig(), (ship.TailConfig{}).WithDefaults(); got.WithDefaults() != want || got.Interval != want.Interval || got.AckWindow != want.AckWindow || got.InFlight != want.InFlight || got.AckTimeout != want.AckTimeout {
		t.Errorf("storage (continuous shipping):\n file %+v\n zero %+v", got, want)
	}
	got := c.coreConfig(nil)
	off := ingest.Config{DataDir: got.DataDir, Node: got.Node, MinFree: got.MinFree, SealGrace: got.SealGrace, SealIdle: got.SealIdle,
		KeepRejected: got.KeepRejected, RetainDays: got.RetainDays, RetainBytes: got.RetainBytes}
	if want := off.WithDefaults(); !reflect.DeepEqual(got.WithDefaults(), want) {
		t.Errorf("core:\n file %+v\n zero %+v", got, want)
	}
	if got.MinFree == 0 || got.SealGrace == 0 || !got.KeepRejected || got.RetainDays != 0 {
		t.Errorf("the file's defaults for the settings where 0 means off changed: %+v", got)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:1\ndata_dir: /from/file\n"), 0o644)
	cf := commonFlags{config: p, dataDir: "/from/flag"}
	cfg, err := loadCfgWithListen(&cf, "127.0.0.1:2")
	if err != nil || cfg.DataDir != "/from/flag" || cfg.Listen != "127.0.0.1:2" {
		t.Fatalf("%v %s %s", err, cfg.DataDir, cfg.Listen)
	}
	cf = commonFlags{config: p}
	cfg, _ = loadCfgWithListen(&cf, "")
	if cfg.DataDir != "/from/file" || cfg.Listen != "127.0.0.1:1" {
		t.Fatalf("file values lost: %s %s", cfg.DataDir, cfg.Listen)
	}
}
