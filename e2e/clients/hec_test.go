package clients

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// Splunk's own Node.js logging library (npm splunk-logging), unmodified,
// sends HEC events with "Authorization: Splunk <token>"; each is stored once.
func TestHECFromSplunkLogging(t *testing.T) {
	t.Parallel()
	script := filepath.Join(e2e.RepoRoot(), ".ci", "hec", "send.cjs")
	if _, err := os.Stat(filepath.Join(e2e.RepoRoot(), ".ci", "hec", "node_modules", "splunk-logging")); err != nil {
		testenv.Missing(t, "splunk-logging", "npm install --prefix .ci/hec splunk-logging@0.11.1")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node", "apt-get install nodejs npm")
	}
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: hec-app, token: 3f2a5c5e-hec-token}]\nreport:\n  schedule: \"off\"\n")
	if out, err := exec.Command(node, script, d.URL, "3f2a5c5e-hec-token", "120").CombinedOutput(); err != nil {
		t.Fatalf("splunk-logging: %v\n%s", err, out)
	}
	// A wrong token: the library reports HEC's 403 "Invalid token".
	out, err := exec.Command(node, script, d.URL, "wrong-token", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Invalid token") {
		t.Fatalf("a wrong token: %v\n%s", err, out)
	}
	d.Stop()
	seen := map[int]bool{}
	for _, line := range e2e.AllStored(t, dir) {
		var rec struct {
			Time       float64 `json:"time"`
			Host       string  `json:"host"`
			Source     string  `json:"source"`
			Sourcetype string  `json:"sourcetype"`
			Index      string  `json:"index"`
			Event      struct {
				Message struct {
					I   int    `json:"i"`
					Msg string `json:"msg"`
				} `json:"message"`
				Severity string `json:"severity"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		i := rec.Event.Message.I
		if seen[i] || rec.Host != "web-7" || rec.Source != "checkout" || rec.Sourcetype != "_json" || rec.Index != "main" || rec.Time < 1.7e9 ||
			!strings.HasPrefix(rec.Event.Message.Msg, "hec event ") || rec.Event.Severity == "" {
			t.Fatalf("stored %s", line)
		}
		seen[i] = true
	}
	if len(seen) != 120 {
		t.Fatalf("stored %d events, want 120", len(seen))
	}
}

// The HEC shapes: concatenated events, "time" as a string, raw lines with
// query metadata, channels and acks, health, and HEC's error codes; a
// refused request stores nothing.
func TestHECShapesAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: hec, token: hec-token-0123456789}]\nreport:\n  schedule: \"off\"\n")
	auth := map[string]string{"Authorization": "Splunk hec-token-0123456789", "Content-Type": "application/x-www-form-urlencoded"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range auth {
			m[a] = b
		}
		return m
	}
	for _, c := range []struct {
		path, body string
		hdr        map[string]string
		code       int
		want       string
	}{
		{"/services/collector", `{"time":"1793700000.250","event":"one","fields":{"f":1}} {"time":1793700001,"event":{"two":2}}`, auth, 200, `{"text":"Success","code":0}`},
		{"/services/collector/event", `{"event":"three"}`, with("X-Splunk-Request-Channel", "0b3a8f1e-5c2d-4e8a-9f31-7c1d2e3f4a5b"), 200, `"ackId":`},
		{"/services/collector/raw?host=h1&sourcetype=st&channel=c1", "raw one\nraw two\n", auth, 200, `"ackId":`},
		{"/services/collector/ack?channel=c1", `{"acks":[0,1]}`, auth, 200, `{"acks":{"0":true,"1":true}}`},
		{"/services/collector", `{"event":"x"}`, map[string]string{}, 401, `{"text":"Token is required","code":2}`},
		{"/services/collector", `{"event":"x"}`, map[string]string{"Authorization": "Splunk nope"}, 403, `{"text":"Invalid token","code":4}`},
		{"/services/collector", ``, auth, 400, `{"text":"No data","code":5}`},
		{"/services/collector", `{"event":"ok"} {"time":1}`, auth, 400, `{"text":"Event field is required","code":12,"invalid-event-number":1}`},
		{"/services/collector", `{"event":""}`, auth, 400, `"code":13`},
		{"/services/collector", `{"event":"a"} {"event":`, auth, 400, `"code":6`},
	} {
		r := d.Post(t, c.path, []byte(c.body), c.hdr)
		if r.Code != c.code || !strings.Contains(r.Body, c.want) {
			t.Errorf("%s %q: %d %s, want %d %s", c.path, c.body, r.Code, r.Body, c.code, c.want)
		}
	}
	resp, err := d.Client.Get(d.URL + "/services/collector/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", err, resp)
	}
	d.Stop()
	all := strings.Join(e2e.AllStored(t, dir), "\n")
	for _, want := range []string{`{"time":1793700000.250,"event":"one","fields":{"f":1}}`, `{"time":1793700001,"event":{"two":2}}`,
		`{"event":"raw one","host":"h1","sourcetype":"st"`, `{"event":"three"`} {
		if !strings.Contains(all, want) {
			t.Errorf("stored records lack %s:\n%s", want, all)
		}
	}
	if n := len(e2e.AllStored(t, dir)); n != 5 {
		t.Errorf("stored %d records, want 5 (nothing of the refused requests):\n%s", n, all)
	}
}
