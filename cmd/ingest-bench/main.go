// Command ingest-bench loads an ingestd daemon and proves, record by record,
// that nothing acknowledged was lost or duplicated.
//
//	ingest-bench --url http://127.0.0.1:8080 --duration 60s --ack-log acks.log
//	(stop the daemon)
//	ingest-bench --verify ./data --ack-log acks.log
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/internal/dirlock"

	"github.com/ingestd/ingestd/bench"
)

const usage = `ingest-bench: load an ingestd daemon and verify that nothing was lost.

Load (closed loop: --conns requests in flight; open loop: --rate records/s,
latency measured from each request's intended send time):

  ingest-bench --url http://127.0.0.1:8080 --duration 60s --ack-log acks.log --pid $(pgrep ingestd)

Verify, after stopping the daemon (every acknowledged record exactly once,
nothing refused or invalid stored, unanswered requests whole or absent):

  ingest-bench --verify ./data --ack-log acks.log

Options:
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var (
		w   bench.Workload
		cfg bench.LoadConfig
	)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "daemon base `URL`")
	fs.StringVar(&cfg.Token, "token", "", "bearer `token`, when the daemon has tokens configured")
	fs.Int64Var(&w.Seed, "seed", 1, "workload seed: the same seed sends the same bytes")
	fs.StringVar(&w.Shape, "shape", bench.ShapeUnique, "record `shape`: unique (≈350 B log lines whose every value varies, ≈ 4.6× under zstd -1), or the template shapes (16 bodies a run, ids patched): logs (≈280 B, ≈ 8×), events (≈600 B, nested), metrics (≈120 B), wide (≈2 KB, 60+ fields), mixed")
	fs.IntVar(&w.Batch, "batch", 1000, "records per request")
	fs.StringVar(&w.Form, "form", "ndjson", "body `form`: ndjson or array")
	fs.StringVar(&w.Protocol, "protocol", bench.ProtocolNative, "`protocol`: native (POST /v1/ingest, NDJSON), otlp (POST /v1/logs, OTLP protobuf: the same records, their fields as attributes) otlp-grpc (the same protobuf to LogsService/Export; --url is otlp.listen_grpc's host:port) or fluent (the same records as Fluent forward messages, a chunk acknowledged per request; --url is fluent.listen's host:port)")
	fs.StringVar(&w.Compression, "compression", "none", "request body `encoding`: none, gzip or zstd")
	fs.IntVar(&w.Days, "days", 1, "spread timestamps over today and the days before, this many days in all")
	until := fs.String("until", "", "timestamps end at this `date` (YYYY-MM-DD, midnight UTC) instead of now: past days, which seal and ship at once")
	fs.Float64Var(&w.Invalid, "invalid", 0, "`fraction` of records sent invalid (uses ?invalid=skip)")
	fs.IntVar(&cfg.Conns, "conns", 8, "connections; in closed loop, requests in flight")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: `records/s` to offer (0: closed loop, as fast as acknowledgements come)")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measured `time`, after the warm-up")
	fs.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "warm-up `time`, excluded from the figures")
	fs.Int64Var(&cfg.Requests, "requests", 0, "stop after this many requests instead of after --duration")
	records := fs.Int64("records", 0, "stop after this many records (rounded up to whole requests) instead of after --duration")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per-request `timeout`; a request without an answer counts as unanswered")
	fs.IntVar(&cfg.PID, "pid", 0, "daemon `pid`, to report its RSS and CPU from /proc")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "daemon data `directory`, to report bytes on disk and the compression ratio")
	ackLog := fs.String("ack-log", "", "`file` recording every request's answer (needed by --verify)")
	out := fs.String("out", "", "write the results as JSON to `file`")
	verify := fs.String("verify", "", "verify the segments in this data `directory` against --ack-log (daemon stopped)")
	quiet := fs.Bool("quiet", false, "no progress line")
	sampleOut := fs.String("sample-out", "", "write 32 MiB of the workload's records as NDJSON to this `file` and exit (for a reference such as zstd -b1 -T1 on the same bytes)")
	waitReady := fs.Duration("wait-ready", 30*time.Second, "wait up to this `long` for the daemon's /readyz to answer 200 before starting (a daemon just started may still be recovering)")
	readyURL := fs.String("ready-url", "", "the daemon's HTTP `URL` whose /readyz --wait-ready polls (default --url; with --protocol otlp-grpc, whose --url has no /readyz, none unless given)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ingest-bench: unexpected arguments %v\n", fs.Args())
		return 2
	}
	if *until != "" {
		t, err := time.Parse(time.DateOnly, *until)
		if err != nil {
			fmt.Fprintf(stderr, "ingest-bench: --until %q: want YYYY-MM-DD\n", *until)
			return 2
		}
		w.Until = t
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *verify != "" {
		if *ackLog == "" {
			fmt.Fprintln(stderr, "ingest-bench: --verify needs --ack-log")
			return 2
		}
		if h, held := dirlock.Held(*verify); held {
			fmt.Fprintf(stderr, "ingest-bench: a running ingestd owns %s (%s): stop it first, so that every buffered record is in the segments\n", *verify, h)
			return 2
		}
		f, err := os.Open(*ackLog)
		if err != nil {
			fmt.Fprintln(stderr, "ingest-bench:", err)
			return 2
		}
		defer f.Close()
		v, err := bench.Verify(ctx, *verify, f)
		if err != nil {
			fmt.Fprintln(stderr, "ingest-bench: verify:", err)
			return 1
		}
		fmt.Fprintf(stdout, "requests %d: acknowledged %d, unanswered %d (%d stored whole), refused %d\n", v.Requests, v.Acked, v.Unanswered, v.UnansweredKept, v.Refused)
		fmt.Fprintf(stdout, "records: expected %d, stored %d, lost %d, duplicated %d, unexpected %d, partial requests %d\n",
			v.RecordsExpected, v.RecordsStored, v.Lost, v.Duplicated, v.Unexpected, v.Partial)
		for _, p := range v.Problems {
			fmt.Fprintln(stdout, "PROBLEM", p)
		}
		if err := writeJSON(*out, v); err != nil {
			fmt.Fprintln(stderr, "ingest-bench:", err)
			return 1
		}
		if !v.OK {
			fmt.Fprintln(stdout, "FAIL")
			return 1
		}
		fmt.Fprintln(stdout, "OK: every acknowledged record is stored exactly once")
		return 0
	}
	if err := w.Validate(); err != nil {
		fmt.Fprintln(stderr, "ingest-bench:", err)
		return 2
	}
	if *records > 0 {
		cfg.Requests = (*records + int64(w.Batch) - 1) / int64(w.Batch)
	}
	if *sampleOut != "" {
		g, err := bench.NewGenerator(w, time.Now())
		if err == nil {
			err = os.WriteFile(*sampleOut, g.Sample(32<<20), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "ingest-bench:", err)
			return 1
		}
		return 0
	}
	if *ackLog != "" {
		f, err := os.Create(*ackLog)
		if err != nil {
			fmt.Fprintln(stderr, "ingest-bench:", err)
			return 2
		}
		defer f.Close()
		cfg.AckLog = f
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	if *readyURL == "" && !w.GRPC() && !w.Fluent() {
		*readyURL = cfg.URL
	}
	if *readyURL != "" {
		if err := awaitReady(ctx, *readyURL, *waitReady, stderr); err != nil {
			fmt.Fprintln(stderr, "ingest-bench:", err)
			return 1
		}
	}
	res, err := bench.Run(ctx, w, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "ingest-bench:", err)
		return 1
	}
	printTable(stdout, res)
	if err := writeJSON(*out, res); err != nil {
		fmt.Fprintln(stderr, "ingest-bench:", err)
		return 1
	}
	return 0
}

// awaitReady polls url/readyz until it answers 200 or wait has passed, so
// that "ingestd serve & ingest-bench" does not count a daemon still starting
// as failed requests.
func awaitReady(ctx context.Context, url string, wait time.Duration, stderr io.Writer) error {
	deadline := time.Now().Add(wait)
	c := &http.Client{Timeout: 2 * time.Second}
	said := false
	for {
		var last string
		resp, err := c.Get(strings.TrimSuffix(url, "/") + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not ready after %s: %s", url, wait, last)
		}
		if !said {
			fmt.Fprintf(stderr, "ingest-bench: waiting for %s to be ready\n", url)
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func printTable(w io.Writer, r *bench.Result) {
	row := func(k, format string, v ...any) { fmt.Fprintf(w, "%-28s "+format+"\n", append([]any{k}, v...)...) }
	form := r.Workload.Form
	if r.Workload.OTLP() {
		form = "OTLP protobuf"
	}
	row("workload", "%s ×%d %s %s, %d day(s), invalid %.2g", r.Workload.Shape, r.Workload.Batch, form, r.Workload.Compression, r.Workload.Days, r.Workload.Invalid)
	if r.Mode == "open" {
		row("mode", "open loop at %.0f records/s, %d conns", r.TargetRate, r.Conns)
	} else {
		row("mode", "closed loop, %d conns", r.Conns)
	}
	row("measured", "%.1f s", r.Seconds)
	row("records/s (acknowledged)", "%.0f", r.RecordsPerS)
	row("requests/s", "%.0f", r.RequestsPerS)
	row("raw MB/s", "%.1f", r.RawMBPerS)
	row("wire MB/s", "%.1f", r.WireMBPerS)
	codes := make([]string, 0, len(r.Status))
	for k := range r.Status {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	st := ""
	for _, k := range codes {
		st += fmt.Sprintf("%s:%d ", k, r.Status[k])
	}
	row("answers", "%s", st)
	row("latency ms p50/p90/p99", "%.2f / %.2f / %.2f", r.LatencyMS["p50"], r.LatencyMS["p90"], r.LatencyMS["p99"])
	row("latency ms p99.9/max", "%.2f / %.2f", r.LatencyMS["p99.9"], r.LatencyMS["max"])
	if r.DaemonHWMMB > 0 {
		row("daemon RSS MB (max/HWM)", "%.0f / %.0f", r.DaemonRSSMB, r.DaemonHWMMB)
		row("daemon CPU cores", "%.2f", r.DaemonCPU)
		if r.DaemonCPU > 0 {
			row("records per daemon CPU-second", "%.0f", r.RecordsPerS/r.DaemonCPU)
		}
	}
	row("generator CPU cores", "%.2f", r.GeneratorCPU)
	if r.DiskBytes > 0 {
		row("bytes on disk (segments)", "%d (%d)", r.DiskBytes, r.SegmentBytes)
		row("compression ratio", "%.2f", r.CompressionRatio)
	}
	row("zstd fastest, 1 core MB/s", "%.0f", r.ZstdMBPerS)
	row("throughput / zstd", "%.3f", r.RatioToZstd)
}
