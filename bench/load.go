package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

// LoadConfig says how to send the workload.
type LoadConfig struct {
	URL      string        // daemon base URL, e.g. http://127.0.0.1:8080
	Token    string        // bearer token, if the daemon wants one
	Conns    int           // connections (closed loop: concurrent requests)
	Rate     float64       // open loop: records/s; 0 means closed loop
	Duration time.Duration // measured time, after Warmup
	Warmup   time.Duration // excluded from the figures
	Requests int64         // stop after this many requests (0: by Duration)
	Timeout  time.Duration // per request
	PID      int           // daemon pid, for RSS and CPU from /proc (0: not measured)
	DataDir  string        // daemon data dir, for bytes on disk (optional)
	Progress io.Writer     // a line per second (nil: none)
	AckLog   io.Writer     // one line per request answered or not (nil: none)
}

// Result is what a run measured. Latencies are in milliseconds.
type Result struct {
	Workload     Workload           `json:"workload"`
	Mode         string             `json:"mode"` // closed or open
	Conns        int                `json:"conns"`
	TargetRate   float64            `json:"target_records_per_s,omitempty"`
	Seconds      float64            `json:"seconds"`
	Requests     int64              `json:"requests"`
	RecordsAcked int64              `json:"records_acked"`
	RecordsPerS  float64            `json:"records_per_s"`
	RequestsPerS float64            `json:"requests_per_s"`
	RawMBPerS    float64            `json:"raw_mb_per_s"`
	WireMBPerS   float64            `json:"wire_mb_per_s"`
	Status       map[string]int64   `json:"status"`                      // "200", "503", "error"
	LatencyMS    map[string]float64 `json:"latency_ms"`                  // p50 p90 p99 p99.9 max
	DaemonRSSMB  float64            `json:"daemon_rss_mb,omitempty"`     // largest sampled
	DaemonHWMMB  float64            `json:"daemon_rss_hwm_mb,omitempty"` // VmHWM
	DaemonCPU    float64            `json:"daemon_cpu_cores,omitempty"`
	GeneratorCPU float64            `json:"generator_cpu_cores"`
	DiskBytes    int64              `json:"disk_bytes,omitempty"`
	SegmentBytes int64              `json:"segment_bytes,omitempty"`
	// CompressionRatio is raw acknowledged bytes (warm-up included) over
	// segment bytes at the end of the run; records still buffered in the
	// daemon make it a slight overestimate until the daemon stops.
	CompressionRatio float64 `json:"compression_ratio,omitempty"`
	ZstdMBPerS       float64 `json:"zstd_fastest_mb_per_s_one_core"`
	RatioToZstd      float64 `json:"throughput_ratio_to_zstd"`
}

type job struct {
	req      Request
	intended time.Time // open loop: when it should have been sent
	body     *[]byte   // req.Body's buffer, for reuse once answered (nil: not pooled)
}

// Run sends the workload and measures it.
func Run(ctx context.Context, w Workload, cfg LoadConfig) (*Result, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return nil, fmt.Errorf("bench: give a duration or a request count")
	}
	probe, err := NewGenerator(w, time.Now())
	if err != nil {
		return nil, err
	}
	res := &Result{Workload: w, Mode: "closed", Conns: cfg.Conns, Status: map[string]int64{}, LatencyMS: map[string]float64{}}
	if cfg.Rate > 0 {
		res.Mode, res.TargetRate = "open", cfg.Rate
	}
	res.ZstdMBPerS = zstdReference(probe.Sample(16 << 20))

	uri, ctype := strings.TrimRight(cfg.URL, "/")+"/v1/ingest", "application/x-ndjson"
	if w.OTLP() {
		uri, ctype = strings.TrimRight(cfg.URL, "/")+"/v1/logs", "application/x-protobuf"
	}
	if w.Invalid > 0 {
		uri += "?invalid=skip"
	}
	client := &fasthttp.HostClient{Addr: strings.TrimPrefix(strings.TrimPrefix(cfg.URL, "http://"), "https://"),
		MaxConns: cfg.Conns, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout, MaxResponseBodySize: 1 << 20}
	if i := strings.IndexByte(client.Addr, '/'); i >= 0 {
		client.Addr = client.Addr[:i]
	}

	// send, for the protocols that are not HTTP, makes one call on load
	// connection c: its status ("200" when acknowledged), the records
	// accepted, and whether the body may be reused (the client is done
	// with it).
	var send func(c int, j job, scratch *[]byte) (status string, accepted int64, reuse bool)
	switch {
	case w.Fluent():
		fc := newFluentClients(cfg.URL, cfg.Conns)
		defer fc.close()
		send = func(c int, j job, msg *[]byte) (string, int64, bool) {
			if st := fc.send(c, j.req.Body, j.req.Index, cfg.Timeout, msg); st != "200" {
				return st, -1, true // send copied the body
			}
			return "200", int64(w.Batch), true
		}
	case w.GRPC():
		gc, err := newGRPCClients(cfg.URL, cfg.Token, cfg.Conns)
		if err != nil {
			return nil, err
		}
		defer gc.close()
		send = func(c int, j job, _ *[]byte) (string, int64, bool) {
			tctx, tcancel := context.WithTimeout(gc.ctx, cfg.Timeout)
			defer tcancel()
			st, body, _ := gc.export(c, j.req.Body, tctx)
			if st != "200" {
				return st, -1, false // after an error gRPC may not be done with it
			}
			return "200", otlpAccepted(body, int64(w.Batch)), true
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	ready := make(chan job, cfg.Conns*2) // prepared bodies, a few ahead
	// Uncompressed bodies go back to the generators once answered: at
	// hundreds of requests a second, fresh ones would have the generator
	// collect garbage many times a second, and its pauses would count as
	// the daemon's latency.
	var bodies sync.Pool // *[]byte
	var gwg sync.WaitGroup
	for g := 0; g < max(1, min(cfg.Conns, runtime.GOMAXPROCS(0))); g++ {
		gwg.Add(1)
		go func() {
			defer gwg.Done()
			gen, _ := NewGenerator(w, time.Now())
			for {
				i := next.Add(1) - 1
				if cfg.Requests > 0 && i >= cfg.Requests {
					return
				}
				bp, _ := bodies.Get().(*[]byte)
				if bp == nil {
					bp = new([]byte)
				}
				j := job{req: gen.RequestInto(i, bp)}
				if b := j.req.Body; len(b) > 0 && len(*bp) > 0 && &b[0] == &(*bp)[0] {
					j.body = bp // sent as it is: reused once answered
				} else {
					bodies.Put(bp) // compressed: the raw body was scratch
				}
				select {
				case ready <- j:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { gwg.Wait(); close(ready) }()

	// Closed loop: a job is handed over only when a worker is free. Open
	// loop: due requests queue here while the daemon is slow (their latency
	// keeps counting from the intended time).
	jobs := make(chan job)
	if cfg.Rate > 0 {
		jobs = make(chan job, openLoopQueue(w, cfg.Conns))
	}
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	if cfg.Requests > 0 {
		end = time.Time{}
	}
	// the feeder: closed loop hands requests over as workers free up; open
	// loop stamps each with its intended send time, so queueing behind a
	// slow daemon counts as latency (no coordinated omission).
	go func() {
		defer close(jobs)
		interval := time.Duration(0)
		if cfg.Rate > 0 {
			interval = time.Duration(float64(time.Second) * float64(w.Batch) / cfg.Rate)
		}
		for n := 0; ; n++ {
			intended := time.Now()
			if interval > 0 {
				intended = start.Add(time.Duration(n) * interval)
				if d := time.Until(intended); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
			}
			if !end.IsZero() && intended.After(end) {
				return
			}
			j, ok := <-ready
			if !ok {
				return
			}
			j.intended = intended
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()

	var (
		mu        sync.Mutex // guards hist, res counters, ackLog
		hist      = hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
		ackLog    *bufio.Writer
		rawBytes  int64
		wireBytes int64
		allRaw    int64 // acknowledged raw bytes, warm-up included
		allAcked  int64 // acknowledged records, warm-up included
		measured  int64
	)
	if cfg.AckLog != nil {
		ackLog = bufio.NewWriter(cfg.AckLog)
		hdr, _ := json.Marshal(w)
		fmt.Fprintf(ackLog, "# ingest-bench ack log v1 %s\n", hdr)
	}
	// record counts one answered request; mu is held.
	record := func(j job, status string, accepted int64, done time.Time) {
		if ackLog != nil {
			fmt.Fprintf(ackLog, "%d %s %d\n", j.req.Index, status, accepted)
		}
		if status == "200" {
			allRaw += int64(j.req.Raw)
			allAcked += accepted
		}
		if !j.intended.Before(measureFrom) {
			measured++
			res.Status[status]++
			if status == "200" {
				res.RecordsAcked += accepted
				rawBytes += int64(j.req.Raw)
				wireBytes += int64(len(j.req.Body))
				hist.RecordValue(max(1, done.Sub(j.intended).Microseconds()))
			}
		}
	}
	cpu0 := selfCPU()
	dcpu0 := procCPU(cfg.PID)
	var wg sync.WaitGroup
	for c := 0; c < cfg.Conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if send != nil { // fluent or gRPC: a call per request on this load connection's own link
				var msg []byte
				for j := range jobs {
					if cfg.Rate == 0 {
						j.intended = time.Now()
					}
					status, accepted, reuse := send(c, j, &msg)
					done := time.Now()
					mu.Lock()
					record(j, status, accepted, done)
					mu.Unlock()
					if reuse && j.body != nil {
						bodies.Put(j.body)
					}
				}
				return
			}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for j := range jobs {
				req.Reset()
				req.SetRequestURI(uri)
				req.Header.SetMethod("POST")
				req.Header.SetContentType(ctype)
				if w.Compression != "none" {
					req.Header.Set("Content-Encoding", w.Compression)
				}
				if cfg.Token != "" {
					req.Header.Set("Authorization", "Bearer "+cfg.Token)
				}
				req.SetBodyRaw(j.req.Body)
				if cfg.Rate == 0 {
					j.intended = time.Now()
				}
				err := client.DoTimeout(req, resp, cfg.Timeout)
				done := time.Now()
				status, accepted := "error", int64(-1)
				if err == nil {
					status = strconv.Itoa(resp.StatusCode())
					if resp.StatusCode() == 200 && w.OTLP() {
						accepted = otlpAccepted(resp.Body(), int64(w.Batch))
					} else if resp.StatusCode() == 200 {
						accepted = parseAccepted(resp.Body())
					}
				}
				mu.Lock()
				record(j, status, accepted, done)
				mu.Unlock()
				if err == nil && j.body != nil { // after an error the client may not be done with it
					req.ResetBody()
					bodies.Put(j.body)
				}
			}
		}()
	}
	// progress and RSS sampling
	stopTick := make(chan struct{})
	var tickWG sync.WaitGroup
	tickWG.Add(1)
	go func() {
		defer tickWG.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-stopTick:
				return
			case now := <-t.C:
				rss, _ := procRSS(cfg.PID)
				mu.Lock()
				if rss > res.DaemonRSSMB {
					res.DaemonRSSMB = rss
				}
				acked, everAcked := res.RecordsAcked, allAcked
				p99 := float64(hist.ValueAtQuantile(99)) / 1000
				st := fmtStatus(res.Status)
				mu.Unlock()
				if cfg.Progress != nil {
					fmt.Fprintln(cfg.Progress, progressLine(now.Sub(start), measureFrom.Sub(now), acked-last, everAcked, p99, st, cfg.PID > 0, rss))
				}
				last = acked
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(measureFrom)
	close(stopTick)
	tickWG.Wait()
	cancel()
	if ackLog != nil {
		if err := ackLog.Flush(); err != nil {
			return nil, fmt.Errorf("bench: ack log: %w", err)
		}
	}
	res.Seconds = elapsed.Seconds()
	res.Requests = measured
	res.RecordsPerS = float64(res.RecordsAcked) / res.Seconds
	res.RequestsPerS = float64(measured) / res.Seconds
	res.RawMBPerS = float64(rawBytes) / 1e6 / res.Seconds
	res.WireMBPerS = float64(wireBytes) / 1e6 / res.Seconds
	res.LatencyMS = latencySummary(hist)
	res.GeneratorCPU = (selfCPU() - cpu0) / time.Since(start).Seconds()
	if cfg.PID > 0 {
		res.DaemonCPU = (procCPU(cfg.PID) - dcpu0) / time.Since(start).Seconds()
		_, res.DaemonHWMMB = procRSS(cfg.PID)
	}
	if cfg.DataDir != "" {
		res.DiskBytes, res.SegmentBytes = diskUsage(cfg.DataDir)
		if res.SegmentBytes > 0 {
			res.CompressionRatio = float64(allRaw) / float64(res.SegmentBytes)
		}
	}
	if res.ZstdMBPerS > 0 {
		res.RatioToZstd = res.RawMBPerS / res.ZstdMBPerS
	}
	return res, nil
}

// latencySummary returns p50, p90, p99, p99.9 and max in milliseconds of a
// histogram of microseconds.
func latencySummary(h *hdrhistogram.Histogram) map[string]float64 {
	out := map[string]float64{}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}} {
		out[q.name] = float64(h.ValueAtQuantile(q.q)) / 1000
	}
	out["max"] = float64(h.Max()) / 1000
	return out
}

// parseAccepted reads N from {"accepted":N,...}.
func parseAccepted(b []byte) int64 {
	const k = `"accepted":`
	i := strings.Index(string(b), k)
	if i < 0 {
		return -1
	}
	j := i + len(k)
	e := j
	for e < len(b) && b[e] >= '0' && b[e] <= '9' {
		e++
	}
	n, err := strconv.ParseInt(string(b[j:e]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func fmtStatus(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// zstdReference measures single-core SpeedFastest compression of sample in
// MB/s: the stable yardstick each run reports the daemon's throughput against.
func zstdReference(sample []byte) float64 {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return 0
	}
	defer enc.Close()
	const block = 4 << 20
	var out []byte
	t := time.Now()
	n := 0
	for time.Since(t) < 500*time.Millisecond || n == 0 {
		for off := 0; off < len(sample); off += block {
			out = enc.EncodeAll(sample[off:min(off+block, len(sample))], out[:0])
		}
		n++
	}
	return float64(n*len(sample)) / 1e6 / time.Since(t).Seconds()
}

// procCPU returns a process's user+system CPU seconds (0 when unknown).
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	return statCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

func selfCPU() float64 { return statCPU("/proc/self/stat") }

func statCPU(path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// procRSS returns VmRSS and VmHWM in MB.
// progressLine is one line of the per-second progress, at elapsed: during
// the warm-up (warmLeft > 0), which the figures leave out, what was
// acknowledged so far; then the measured records of the last second, the
// p99 and the answers. The daemon's RSS only when its pid was given.
func progressLine(elapsed, warmLeft time.Duration, perSecond, everAcked int64, p99 float64, answers string, withRSS bool, rssMB float64) string {
	var b strings.Builder
	if warmLeft > 0 {
		fmt.Fprintf(&b, "%5.0fs warming up, not measured (%.0f s left): %d records acknowledged", elapsed.Seconds(), math.Ceil(warmLeft.Seconds()), everAcked)
	} else {
		fmt.Fprintf(&b, "%5.0fs %9d records/s  p99 %7.2f ms  %s", elapsed.Seconds(), perSecond, p99, answers)
	}
	if withRSS {
		fmt.Fprintf(&b, "  rss %.0f MB", rssMB)
	}
	return b.String()
}

func procRSS(pid int) (rss, hwm float64) {
	if pid <= 0 {
		return 0, 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				rss = kb / 1024
			} else {
				hwm = kb / 1024
			}
		}
	}
	return rss, hwm
}

func diskUsage(dataDir string) (all, segments int64) {
	filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			all += info.Size()
			if strings.Contains(p, string(filepath.Separator)+"segments"+string(filepath.Separator)) {
				segments += info.Size()
			}
		}
		return nil
	})
	return all, segments
}

// openLoopQueue bounds the requests an open loop lets queue while the daemon
// is slow to about 256 MiB of bodies. Once it is full the feeder waits, but
// intended send times keep following the schedule, so latency still counts
// the queueing (a 64 Ki-job queue of 280 KB bodies once took the generator
// to 24 GB and the OOM killer).
func openLoopQueue(w Workload, conns int) int {
	gen, err := NewGenerator(w, time.Now())
	if err != nil {
		return conns * 2
	}
	size := len(gen.Request(0).Body) + 1
	return max(conns*2, min(1<<16, (256<<20)/size))
}
