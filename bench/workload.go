// Package bench is ingestd's load generator and loss verifier. It talks to
// the daemon only as a user would: HTTP, and the segment files through the
// segment reader.
package bench

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Shapes of generated records.
const (
	ShapeLogs    = "logs"    // web/app log lines, ≈ 280 B
	ShapeEvents  = "events"  // nested product events with arrays, ≈ 600 B
	ShapeMetrics = "metrics" // small numeric points, ≈ 120 B
	ShapeWide    = "wide"    // ≈ 2 KB, 50+ fields
	ShapeMixed   = "mixed"   // the four above in turn
	// ShapeUnique is log lines whose ids, numbers, timestamps and messages
	// all vary, request by request, like real logs (≈ 330 B; ≈ 4–5× under
	// zstd -1, where the template shapes' 16 bodies reach ≈ 10×). The
	// default.
	ShapeUnique = "unique"
)

// Protocols a workload can speak: the native NDJSON API, or OTLP/HTTP logs
// in protobuf with the same records (each record's fields become the
// LogRecord's attributes, in order; its timestamp the time_unix_nano).
const (
	ProtocolNative = "native" // POST /v1/ingest
	ProtocolOTLP   = "otlp"   // POST /v1/logs, application/x-protobuf
	// ProtocolOTLPGRPC sends the same protobuf bodies as ProtocolOTLP to
	// OTLP/gRPC's LogsService/Export (--url is otlp.listen_grpc's address).
	ProtocolOTLPGRPC = "otlp-grpc"
	// ProtocolFluent sends the same records as Fluent forward messages
	// (Forward mode, EventTime, a chunk acknowledged per request) to
	// fluent.listen (--url is its host:port).
	ProtocolFluent = "fluent"
)

// Nominal record sizes, for the tests and the docs.
var Nominal = map[string]int{ShapeLogs: 280, ShapeEvents: 600, ShapeMetrics: 120, ShapeWide: 2048}

// idWidth is the fixed width of the numeric record id, so templates can be
// patched in place and the verifier can index a counter array.
const idWidth = 12

// Workload describes the requests to send. The zero value is not valid;
// see Validate.
type Workload struct {
	Seed        int64
	Shape       string
	Batch       int    // records per request
	Form        string // "ndjson" or "array"
	Compression string // "none", "gzip" or "zstd"
	Days        int    // timestamps spread over today and Days-1 days before
	// Until, when set, stands for "now" above: the records fall in the Days
	// days before it (past, sealed days — for shipping and report tests).
	Until   time.Time `json:",omitzero"`
	Invalid float64   // fraction of records replaced by invalid JSON (sent with ?invalid=skip)
	// Protocol is ProtocolNative ("" too) or ProtocolOTLP.
	Protocol string `json:",omitempty"`
}

// OTLP reports whether the workload speaks OTLP (over HTTP or gRPC).
func (w Workload) OTLP() bool { return w.Protocol == ProtocolOTLP || w.Protocol == ProtocolOTLPGRPC }

// Fluent reports whether the workload speaks Fluent forward.
func (w Workload) Fluent() bool { return w.Protocol == ProtocolFluent }

// GRPC reports whether the workload speaks OTLP over gRPC.
func (w Workload) GRPC() bool { return w.Protocol == ProtocolOTLPGRPC }

// Validate checks the workload.
func (w Workload) Validate() error {
	switch {
	case w.Shape != ShapeLogs && w.Shape != ShapeEvents && w.Shape != ShapeMetrics && w.Shape != ShapeWide && w.Shape != ShapeMixed && w.Shape != ShapeUnique:
		return fmt.Errorf("bench: unknown shape %q (unique, logs, events, metrics, wide, mixed)", w.Shape)
	case w.Shape == ShapeUnique && (w.Invalid > 0 || w.Form != "ndjson" || w.OTLP()):
		return fmt.Errorf("bench: shape unique is NDJSON to /v1/ingest: no --invalid, --form array or --protocol otlp (use a template shape)")
	case w.Batch < 1 || w.Batch > 100000:
		return fmt.Errorf("bench: batch %d (want 1..100000)", w.Batch)
	case w.Form != "ndjson" && w.Form != "array":
		return fmt.Errorf("bench: form %q (ndjson or array)", w.Form)
	case w.Compression != "none" && w.Compression != "gzip" && w.Compression != "zstd":
		return fmt.Errorf("bench: compression %q (none, gzip or zstd)", w.Compression)
	case w.Days < 1 || w.Days > 365:
		return fmt.Errorf("bench: days %d (want 1..365)", w.Days)
	case w.Invalid < 0 || w.Invalid >= 1:
		return fmt.Errorf("bench: invalid fraction %g (want 0 ≤ f < 1)", w.Invalid)
	case w.Protocol != "" && w.Protocol != ProtocolNative && w.Protocol != ProtocolOTLP && w.Protocol != ProtocolOTLPGRPC && w.Protocol != ProtocolFluent:
		return fmt.Errorf("bench: protocol %q (native, otlp, otlp-grpc or fluent)", w.Protocol)
	case w.Fluent() && (w.Compression != "none" || w.Invalid > 0 || w.Form != "ndjson" || w.Shape == ShapeUnique):
		return fmt.Errorf("bench: protocol fluent sends MessagePack from a template shape: no --compression, --invalid, --form array or shape unique")
	case w.GRPC() && w.Compression != "none":
		return fmt.Errorf("bench: protocol otlp-grpc sends its messages uncompressed: --compression none")
	case w.OTLP() && (w.Invalid > 0 || w.Form != "ndjson"):
		return fmt.Errorf("bench: protocol otlp sends protobuf: no --invalid, no --form array")
	}
	return nil
}

// Request is one prepared request. Record ids are FirstID..FirstID+Batch-1.
type Request struct {
	Index   int64
	FirstID int64
	Body    []byte // as sent (compressed when the workload says so)
	Raw     int    // uncompressed body bytes
	Invalid []bool // per record: sent as invalid JSON (never stored)
}

// Generator makes requests deterministically from the workload's seed:
// request i always has the same bytes. Not safe for concurrent use.
type Generator struct {
	w       Workload
	now     time.Time
	tmpl    [][]byte // per template: a whole body with id placeholders
	idOffs  [][]int  // per template: offset of each record's id digits
	ndjson  [][]byte // with OTLP: the same records as NDJSON (Sample)
	invalid [][]bool
	zenc    *zstd.Encoder
	buf     bytes.Buffer
	gz      *gzip.Writer
}

// templates per generator: requests cycle through them (ids always differ).
const nTemplates = 16

// NewGenerator prepares templates; now anchors the timestamps.
func NewGenerator(w Workload, now time.Time) (*Generator, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if !w.Until.IsZero() {
		now = w.Until
	}
	g := &Generator{w: w, now: now.UTC()}
	for t := 0; t < nTemplates && w.Shape == ShapeUnique; t++ {
		g.invalid = append(g.invalid, make([]bool, w.Batch)) // none
	}
	for t := 0; t < nTemplates && w.Shape != ShapeUnique; t++ {
		rng := rand.New(rand.NewSource(w.Seed*1_000_003 + int64(t)))
		var b []byte
		var offs []int
		var inv []bool
		if w.Form == "array" {
			b = append(b, '[')
		}
		for j := 0; j < w.Batch; j++ {
			if w.Form == "array" && j > 0 {
				b = append(b, ',')
			}
			bad := w.Invalid > 0 && rng.Float64() < w.Invalid
			b = append(b, `{"id":"`...)
			offs = append(offs, len(b))
			b = append(b, bytes.Repeat([]byte{'0'}, idWidth)...)
			b = append(b, '"')
			shape := w.Shape
			if shape == ShapeMixed {
				shape = []string{ShapeLogs, ShapeEvents, ShapeMetrics, ShapeWide}[j%4]
			}
			ts := g.now.Add(-time.Duration(rng.Int63n(int64(w.Days)*int64(24*time.Hour)-int64(time.Minute)) + int64(time.Minute)))
			if ts.After(g.now) {
				ts = g.now
			}
			switch {
			case bad && w.Form == "array":
				// A grammar error would fail the whole array; an unparseable
				// timestamp is a well-formed record that is rejected alone.
				b = append(b, `,"timestamp":"never"}`...)
			case bad:
				b = appendRecord(b, shape, ts, rng)
				b = b[:len(b)-1] // no closing brace: invalid JSON on its line
			default:
				b = appendRecord(b, shape, ts, rng)
			}
			inv = append(inv, bad)
			if w.Form == "ndjson" {
				b = append(b, '\n')
			}
		}
		if w.Form == "array" {
			b = append(b, ']')
		}
		if w.OTLP() || w.Fluent() {
			g.ndjson = append(g.ndjson, b)
			var err error
			if w.Fluent() {
				b, offs, err = fluentTemplate(b, w.Batch)
			} else {
				b, offs, err = otlpTemplate(b, w.Batch)
			}
			if err != nil {
				return nil, err
			}
		}
		g.tmpl = append(g.tmpl, b)
		g.idOffs = append(g.idOffs, offs)
		g.invalid = append(g.invalid, inv)
	}
	if w.Compression == "zstd" {
		g.zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	}
	if w.Compression == "gzip" {
		g.gz, _ = gzip.NewWriterLevel(&g.buf, gzip.BestSpeed)
	}
	return g, nil
}

// Request returns request i (a new body each call; the caller owns it).
func (g *Generator) Request(i int64) Request {
	var buf []byte
	return g.RequestInto(i, &buf)
}

// RequestInto is Request with the uncompressed body built in *buf's memory
// (grown as needed; *buf is left holding the body), so that a load
// generator can reuse bodies instead of making garbage at the rate it
// sends. Without compression the request's Body is *buf itself: reuse it
// only once the request is done. Compressed bodies are new.
func (g *Generator) RequestInto(i int64, buf *[]byte) Request {
	t := int(i % nTemplates)
	first := i * int64(g.w.Batch)
	var body []byte
	if g.w.Shape == ShapeUnique {
		body = g.unique((*buf)[:0], i)
	} else {
		body = append((*buf)[:0], g.tmpl[t]...)
		var digits [20]byte
		for j, off := range g.idOffs[t] {
			d := strconv.AppendInt(digits[:0], first+int64(j), 10)
			copy(body[off+idWidth-len(d):off+idWidth], d)
		}
	}
	*buf = body
	r := Request{Index: i, FirstID: first, Raw: len(body), Invalid: g.invalid[t]}
	switch g.w.Compression {
	case "zstd":
		r.Body = g.zenc.EncodeAll(body, nil)
	case "gzip":
		g.buf.Reset()
		g.gz.Reset(&g.buf)
		g.gz.Write(body)
		g.gz.Close()
		r.Body = append([]byte(nil), g.buf.Bytes()...)
	default:
		r.Body = body
	}
	return r
}

// Sample returns n bytes' worth of generated NDJSON for the reference
// compression measurement.
func (g *Generator) Sample(n int) []byte {
	if g.w.Shape == ShapeUnique {
		var out []byte
		for i := int64(0); len(out) < n; i++ {
			out = g.unique(out, i)
		}
		return out
	}
	src := g.tmpl
	if g.w.OTLP() || g.w.Fluent() {
		src = g.ndjson
	}
	var out []byte
	for i := int64(0); len(out) < n; i++ {
		out = append(out, src[int(i%nTemplates)]...)
	}
	return out
}

func appendRecord(b []byte, shape string, ts time.Time, r *rand.Rand) []byte {
	tsS := ts.Format(time.RFC3339Nano)
	switch shape {
	case ShapeLogs:
		return fmt.Appendf(b, `,"timestamp":"%s","level":"%s","service":"checkout-%d","host":"node-%03d.eu-west-1","method":"%s","path":"/api/v2/orders/%d/items","status":%d,"duration_ms":%d.%03d,"bytes":%d,"msg":"request completed"}`,
			tsS, pick(r, "info", "info", "info", "warn", "error", "debug"), r.Intn(12), r.Intn(200), pick(r, "GET", "GET", "POST", "PUT"),
			r.Intn(1000000), pickInt(r, 200, 200, 200, 201, 404, 500), r.Intn(900), r.Intn(1000), 200+r.Intn(50000))
	case ShapeEvents:
		return fmt.Appendf(b, `,"ts":"%s","event":"%s","user":{"id":"u-%08d","country":"%s","plan":"%s","tags":["%s","%s"]},"cart":{"items":[{"sku":"SKU-%05d","qty":%d,"price":%d.%02d},{"sku":"SKU-%05d","qty":%d,"price":%d.%02d},{"sku":"SKU-%05d","qty":%d,"price":%d.%02d}],"currency":"EUR","total":%d.%02d},"session":{"id":"%016x","device":"%s","referrer":"https://www.example.com/landing/%d"},"experiment":{"name":"checkout-v%d","variant":"%s"},"page":{"path":"/products/category/%d/item/%d","title":"Product page %d","load_ms":%d}}`,
			tsS, pick(r, "add_to_cart", "checkout", "purchase", "view_item", "remove_from_cart"), r.Intn(10000000), pick(r, "DE", "FR", "NL", "PL", "ES", "IT"),
			pick(r, "free", "pro", "team"), pick(r, "new", "returning"), pick(r, "mobile", "desktop"),
			r.Intn(100000), 1+r.Intn(5), r.Intn(500), r.Intn(100), r.Intn(100000), 1+r.Intn(5), r.Intn(500), r.Intn(100),
			r.Intn(100000), 1+r.Intn(5), r.Intn(500), r.Intn(100), r.Intn(2000), r.Intn(100),
			r.Uint64(), pick(r, "ios", "android", "web"), r.Intn(1000), r.Intn(9), pick(r, "control", "treatment"),
			r.Intn(100), r.Intn(100000), r.Intn(100000), r.Intn(3000))
	case ShapeMetrics:
		return fmt.Appendf(b, `,"time":%d,"metric":"%s","host":"h%03d","region":"eu-west-1","value":%d.%03d,"unit":"%s"}`,
			ts.UnixMilli(), pick(r, "cpu.user", "cpu.system", "mem.used", "disk.io", "net.rx", "net.tx"), r.Intn(500), r.Intn(10000), r.Intn(1000), pick(r, "pct", "bytes", "ops"))
	default: // wide
		b = fmt.Appendf(b, `,"@timestamp":"%s"`, tsS)
		for f := 0; f < 63; f++ {
			switch f % 4 {
			case 0:
				b = fmt.Appendf(b, `,"field_%02d":"%s-%06d"`, f, pick(r, "alpha", "bravo", "charlie", "delta"), r.Intn(1000000))
			case 1:
				b = fmt.Appendf(b, `,"metric_%02d":%d.%04d`, f, r.Intn(100000), r.Intn(10000))
			case 2:
				b = fmt.Appendf(b, `,"flag_%02d":%t`, f, r.Intn(2) == 0)
			case 3:
				b = fmt.Appendf(b, `,"label_%02d":"value %d of a moderately long descriptive text"`, f, r.Intn(1000))
			}
		}
		return append(b, '}')
	}
}

func pick(r *rand.Rand, s ...string) string { return s[r.Intn(len(s))] }
func pickInt(r *rand.Rand, s ...int) int    { return s[r.Intn(len(s))] }
