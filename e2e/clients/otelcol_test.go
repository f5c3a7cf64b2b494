package clients

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
	"github.com/ingestd/ingestd/internal/gobin"

	"github.com/ingestd/ingestd/internal/testenv"
)

// lookOtelcol returns the OpenTelemetry Collector that .ci/run builds with
// the Collector builder (filelog receiver, batch processor, otlphttp and
// otlp exporters; .ci/otelcol/builder-config.yaml), or "" when it is not
// built.
func lookOtelcol() string {
	if p := os.Getenv("INGESTD_OTELCOL"); p != "" && e2e.FileExists(p) {
		return p
	}
	return gobin.Find("otelcol-ingestd")
}

// recordsIn is the daemon's ingestd_records_in_total, or -1 when it cannot
// be read.
func recordsIn(d *e2e.Daemon) int {
	resp, err := d.Client.Get(d.URL + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^ingestd_records_in_total (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return int(f)
}

// The real OpenTelemetry Collector (built from the module proxy by the
// Collector builder, unmodified) tails a file with filelogreceiver and sends
// it with otlphttpexporter, retry and queue on, in protobuf. ingestd is
// killed with SIGKILL in mid-stream and restarted; every line of the file
// must be stored. The Collector is at-least-once: a batch that ingestd made
// durable but could not answer before the kill is sent again, so a line may
// be stored twice only if it was in a batch in flight at the kill; a line
// the daemon acknowledged is never lost and never stored twice otherwise.
func TestOTelCollectorKillRestart(t *testing.T) {
	t.Parallel()
	testOTelCollector(t, "proto", true)
}

// The same Collector with its otlp exporter: OTLP over gRPC to
// otlp.listen_grpc, gzip, ingestd killed with SIGKILL mid-stream and
// restarted, every line of the file stored.
func TestOTelCollectorGRPCKillRestart(t *testing.T) {
	t.Parallel()
	testOTelCollector(t, "grpc", true)
}

// The same Collector with encoding: json, the OTLP/JSON body the
// otlphttp exporter sends when so configured (no kill: every line once).
func TestOTelCollectorJSON(t *testing.T) {
	t.Parallel()
	testOTelCollector(t, "json", false)
}

func testOTelCollector(t *testing.T, encoding string, kill bool) {
	bin := lookOtelcol()
	if bin == "" {
		testenv.Missing(t, "the OpenTelemetry Collector (otelcol-ingestd)", "builder --config .ci/otelcol/builder-config.yaml, see CONTRIBUTING.md")
	}
	dir, work := t.TempDir(), t.TempDir()
	// A fixed port: the Collector keeps sending to the same endpoint
	// across the restart.
	addr := e2e.FreeAddr(t)
	const token = "otelcol-token-0123456789"
	// block_age: short, so that lines reach the open parts soon; the
	// count is read after a clean stop anyway.
	listen := "listen"
	exporter := fmt.Sprintf(`otlphttp:
    logs_endpoint: http://%s/v1/logs
    encoding: %s
    headers:
      Authorization: "Bearer %s"`, addr, encoding, token)
	if encoding == "grpc" { // the otlp exporter: LogsService/Export over gRPC
		listen = "listen_grpc"
		exporter = fmt.Sprintf(`otlp:
    endpoint: %s
    tls:
      insecure: true
    headers:
      authorization: "Bearer %s"`, addr, token)
	}
	cfg := fmt.Sprintf("auth:\n  tokens: [{name: collector, token: %s}]\notlp:\n  %s: %s\nsegments:\n  block_age: 200ms\nreport:\n  schedule: \"off\"\n", token, listen, addr)
	d := e2e.Start(t, dir, cfg)

	logFile := filepath.Join(work, "app.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	colConf := filepath.Join(work, "otelcol.yaml")
	os.WriteFile(colConf, []byte(fmt.Sprintf(`receivers:
  filelog:
    include: [%q]
    start_at: beginning
    poll_interval: 50ms
processors:
  batch:
    send_batch_size: 400
    send_batch_max_size: 400
    timeout: 100ms
exporters:
  %s
    compression: gzip
    timeout: 5s
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
    sending_queue:
      enabled: true
      num_consumers: 4
      queue_size: 10000
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: info
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [%s]
`, logFile, exporter, strings.SplitN(exporter, ":", 2)[0])), 0o600)
	col := exec.Command(bin, "--config", colConf)
	var colOut e2e.SyncBuffer
	col.Stdout, col.Stderr = writerFunc(colOut.WriteString), writerFunc(colOut.WriteString)
	if err := col.Start(); err != nil {
		t.Fatal(err)
	}
	colDone := make(chan struct{})
	go func() { col.Wait(); close(colDone) }()
	alive := func() {
		t.Helper()
		select {
		case <-colDone:
			t.Fatalf("the Collector exited: %v\n%s", col.ProcessState, colOut.String())
		default:
		}
	}
	defer func() {
		col.Process.Kill()
		<-colDone
		if t.Failed() {
			t.Logf("collector output:\n%s", colOut.String())
		}
	}()

	// The producer writes n lines in bursts over a few seconds.
	n := 20000
	if !kill {
		n = 5000
	}
	line := func(i int) string { return fmt.Sprintf("otelcol line %06d with \"quotes\", é and a tab\t.", i) }
	const bursts = 40
	writeBurst := func(b int) {
		var sb strings.Builder
		for i := b * n / bursts; i < (b+1)*n/bursts; i++ {
			sb.WriteString(line(i) + "\n")
		}
		if _, err := f.WriteString(sb.String()); err != nil {
			t.Fatal(err)
		}
	}
	for b := 0; b < bursts; b++ {
		alive()
		writeBurst(b)
		if kill && b == bursts/2 {
			// Mid-stream: the daemon has stored some and has some in
			// flight. Kill it, write the next burst while it is down (the
			// Collector must queue and retry it), and start it again on
			// the same port.
			e2e.WaitFor(t, "some lines stored before the kill", func() bool { return recordsIn(d) > n/8 })
			d.Kill()
			b++
			writeBurst(b)
			time.Sleep(700 * time.Millisecond)
			d = e2e.Start(t, dir, cfg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.Close()

	// Wait until the daemon has been quiet for 3 s, then stop it cleanly
	// and count. A Collector still retrying (slow machine) gets another
	// round: lines missing after 4 rounds are lost.
	var counts map[string]int
	var extra []string
	for round := 0; ; round++ {
		last, quietSince := -2, time.Now()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if v := recordsIn(d); v != last {
				last, quietSince = v, time.Now()
			} else if time.Since(quietSince) > 3*time.Second {
				break
			}
		}
		alive()
		d.Stop()
		counts, extra = map[string]int{}, nil
		for _, l := range e2e.AllStored(t, dir) {
			var s struct {
				Timestamp  string         `json:"timestamp"`
				Body       string         `json:"body"`
				Attributes map[string]any `json:"attributes"`
			}
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatalf("stored line %s: %v", l, err)
			}
			if _, err := time.Parse(time.RFC3339Nano, s.Timestamp); err != nil || s.Attributes["log.file.name"] != "app.log" {
				t.Fatalf("stored %s: want the observed time as timestamp and log.file.name app.log", l)
			}
			if !strings.HasPrefix(s.Body, "otelcol line ") {
				extra = append(extra, l)
				continue
			}
			counts[s.Body]++
		}
		if len(counts) == n || round == 3 {
			break
		}
		t.Logf("round %d: %d of %d lines stored; the Collector may still be retrying", round, len(counts), n)
		d = e2e.Start(t, dir, cfg)
	}
	if len(extra) > 0 {
		t.Fatalf("%d stored records that are not lines of the file, e.g. %s", len(extra), extra[0])
	}
	missing, twice := 0, 0
	for i := 0; i < n; i++ {
		switch c := counts[line(i)]; {
		case c == 0:
			missing++
		case c == 2:
			twice++
		case c > 2:
			t.Errorf("line %d stored %d times", i, c)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d lines of the file were never stored", missing, n)
	}
	if kill && !strings.Contains(colOut.String(), "retry") {
		t.Fatalf("the Collector never retried, so the kill tested nothing:\n%s", colOut.String())
	}
	// At most the batches in flight at the kill (4 consumers × 400 lines)
	// are sent again; without a kill, nothing is.
	if limit := 0; kill {
		limit = 4 * 400
		if twice > limit {
			t.Fatalf("%d lines stored twice, more than the %d in flight at the kill", twice, limit)
		}
	} else if twice > limit {
		t.Fatalf("%d lines stored twice without any failure", twice)
	}
	t.Logf("%d lines, each stored (%d twice: batches in flight at the kill, resent by the Collector)", n, twice)
}

// writerFunc adapts a string sink to io.Writer.
type writerFunc func(string)

func (w writerFunc) Write(p []byte) (int, error) { w(string(p)); return len(p), nil }
