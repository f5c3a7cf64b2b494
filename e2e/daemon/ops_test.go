package daemon

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/e2e"

	"go.yaml.in/yaml/v3"
)

var metricRe = regexp.MustCompile(`\b(?:ingestd|go|process)_[a-z_]+`)

// The daemon exports exactly the metric names of the golden list (the
// shipper's, with storage, are not in it), and the alert rules and the
// dashboard only use metrics it exports.
func TestAlertsAndDashboardUseRealMetrics(t *testing.T) {
	t.Parallel()
	// The scrub's gauges exist only when it runs, the syslog counters with a
	// listener, the shipper's with storage (a store that is not there: its
	// metrics are registered at the start, before any upload).
	d := e2e.Start(t, t.TempDir(), "scrub:\n  interval: 1h\n  shipped: false\nsyslog:\n  listen_udp: 127.0.0.1:0\n"+
		"storage:\n  endpoint: 127.0.0.1:1\n  bucket: none\n  access_key: k\n  secret_key: s\n")
	resp, err := d.Client.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d.Stop()
	have := map[string]bool{}
	var names []string // "name type" of the daemon's own metrics
	for _, line := range strings.Split(string(m), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			have[f[2]] = true
			if strings.HasPrefix(f[2], "ingestd_") {
				names = append(names, f[2]+" "+f[3])
			}
			if f[3] == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					have[f[2]+s] = true
				}
			}
		}
	}
	// Names are a contract (alerts, dashboards, users' queries): the set
	// registered by every component is the one listed in the golden file.
	golden, err := os.ReadFile(filepath.Join(e2e.RepoRoot(), "testdata", "golden", "metric-names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if got, want := strings.Join(names, "\n")+"\n", string(golden); got != want {
		t.Errorf("the exported metrics changed; if that is meant, update testdata/golden/metric-names.txt (and configs/, docs/OPERATIONS.md):\n got\n%s\n want\n%s", got, want)
	}
	check := func(where, expr string) {
		for _, name := range metricRe.FindAllString(expr, -1) {
			if !have[name] {
				t.Errorf("%s uses %s, which the daemon does not export", where, name)
			}
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(), "configs", "prometheus-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			check("alert "+r.Alert, r.Expr)
		}
	}
	if n < 8 {
		t.Fatalf("%d alert rules", n)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	b, err = os.ReadFile(filepath.Join(e2e.RepoRoot(), "configs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	if len(dash.Panels) < 8 {
		t.Fatalf("%d panels", len(dash.Panels))
	}
}

// The systemd unit runs flags that exist, sandboxed; systemd-analyze checks
// it where installed.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	p := filepath.Join(e2e.RepoRoot(), "configs", "ingestd.service")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/ingestd", "LimitNOFILE=", "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	help, _ := e2e.CLI(t, "serve", "--help")
	for _, flag := range []string{"-config", "-data-dir"} {
		if !strings.Contains(help, flag) {
			t.Errorf("the unit uses %s, which serve does not have", flag)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// ExecStart's binary must exist for verify: point it at the test build.
		tmp := filepath.Join(t.TempDir(), "ingestd.service")
		os.WriteFile(tmp, []byte(strings.ReplaceAll(unit, "/usr/local/bin/ingestd", e2e.Bin)), 0o644)
		if out, err := exec.Command(sa, "verify", tmp).CombinedOutput(); err != nil && strings.Contains(string(out), "ingestd.service:") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("systemd-analyze not installed; unit checked by content only")
	}
}
