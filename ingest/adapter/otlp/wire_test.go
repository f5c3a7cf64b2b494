package otlp

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// viaPdata is the reference: pdata decodes the body, appendLogs maps it.
func viaPdata(body []byte, m Mapping) ([]byte, error) {
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		return nil, err
	}
	return appendLogs(nil, req.Logs(), m)
}

// checkSame fails when the wire decoder and pdata disagree on body: both
// must refuse it, or both store the same bytes, under either resource
// mapping.
func checkSame(t *testing.T, body []byte) {
	t.Helper()
	checkSameMapping(t, body, Mapping{})
	checkSameMapping(t, body, Mapping{FlatResource: true})
}

func checkSameMapping(t *testing.T, body []byte, m Mapping) {
	t.Helper()
	want, werr := viaPdata(body, m)
	got, gerr := RecordsProto([]byte("prefix\n"), body, m)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("body %x: pdata error %v, wire decoder error %v", body, werr, gerr)
	}
	if !bytes.HasPrefix(got, []byte("prefix\n")) {
		t.Fatalf("body %x: dst's bytes not kept: %q", body, got)
	}
	if got = got[len("prefix\n"):]; werr == nil && !bytes.Equal(got, want) {
		t.Fatalf("body %x:\npdata: %s\nwire:  %s", body, want, got)
	}
	if gerr != nil && len(got) != 0 {
		t.Fatalf("body %x: records %q with error %v", body, got, gerr)
	}
}

// Protobuf building blocks for bodies that pdata's marshaler never writes
// (fields out of order, repeated, unknown, in groups).
func ld(num protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, bytes.Join(parts, nil))
}
func str(num protowire.Number, s string) []byte { return ld(num, []byte(s)) }
func vi(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}
func f64(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
}
func f32(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), v)
}
func raw(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// wrap puts log records into a request with one resource and scope.
func wrap(resource, scope []byte, records ...[]byte) []byte {
	var sl [][]byte
	if scope != nil {
		sl = append(sl, ld(1, scope))
	}
	for _, r := range records {
		sl = append(sl, ld(2, r))
	}
	rl := [][]byte{}
	if resource != nil {
		rl = append(rl, ld(1, resource))
	}
	rl = append(rl, ld(2, sl...))
	return ld(1, rl...)
}

func kv(key string, value []byte) []byte { return raw(str(1, key), ld(2, value)) }

// wireCases are bodies on which the two decoders must agree; several are
// refused by both.
func wireCases() map[string][]byte {
	rec := raw(f64(1, 1793700000123456789), vi(2, 9), str(3, "INFO"), ld(5, str(1, "hello \"x\"\n")),
		ld(6, kv("n", vi(3, 42))), ld(6, kv("f", f64(4, math.Float64bits(1.5)))), ld(6, kv("b", vi(2, 1))),
		ld(6, kv("bytes", str(7, "\x00\xff"))), ld(6, kv("arr", ld(5, ld(1, str(1, "a")), ld(1), ld(1, vi(3, 1<<63))))),
		ld(6, kv("map", ld(6, ld(1, kv("k", str(1, "v")))))), f32(8, 1), str(9, strings.Repeat("\x01", 16)), str(10, strings.Repeat("\x02", 8)),
		str(12, "ev"), f64(11, 1793700000000000000))
	res := raw(ld(1, kv("service.name", str(1, "api"))))
	scope := raw(str(1, "lib"), str(2, "1.0"), ld(3, kv("a", vi(2, 0))))
	cases := map[string][]byte{
		"sample":   sampleRequest(),
		"full":     wrap(res, scope, rec),
		"empty":    {},
		"norecord": wrap(nil, nil),
		"bare":     wrap(nil, nil, nil),
		// Fields in reverse order, the resource after the scope logs.
		"reversed": ld(1, ld(2, ld(2, raw(str(12, "ev"), f64(1, 5e18))), ld(1, str(2, "v"), str(1, "n"))), ld(1, res)),
		// Repeated singular fields: the last scalar wins, messages merge.
		"repeated": ld(1, ld(1, res), ld(1, ld(1, kv("host", str(1, "h")))), ld(2, ld(1, str(1, "s1")), ld(1, str(1, "s2"), ld(3, kv("x", vi(3, 1)))),
			ld(2, raw(str(3, "A"), str(3, "B"), ld(5, str(1, "one")), ld(5, vi(3, 2)), f64(1, 1e18), f64(1, 2e18))))),
		"bodyreplaced": wrap(nil, nil, raw(ld(5, ld(6, ld(1, kv("a", vi(3, 1)))), str(1, "last")))),
		"kvtwice":      wrap(nil, nil, raw(ld(6, raw(str(1, "k1"), ld(2, vi(3, 1)), str(1, "k2"), ld(2, str(1, "s")))))),
		"kvnovalue":    wrap(nil, nil, raw(ld(6, str(1, "k")), ld(5))),
		"strindex":     wrap(nil, nil, raw(ld(5, vi(8, 3)), ld(6, kv("i", vi(8, 1))))),
		"nan":          wrap(nil, nil, raw(ld(6, kv("x", f64(4, math.Float64bits(math.Inf(-1))))))),
		"deprecated":   ld(1, ld(1000, ld(2, raw(str(3, "old"))))),
		"bothscopes":   ld(1, ld(2, ld(2, raw(str(3, "new")))), ld(1000, ld(2, raw(str(3, "old"))))),
		"unknown":      wrap(raw(vi(99, 1), f32(98, 2)), raw(f64(97, 3)), raw(vi(96, 4), str(95, "x"))),
		"negsev":       wrap(nil, nil, vi(2, math.MaxUint64)),
		"zeroids":      wrap(nil, nil, raw(str(9, strings.Repeat("\x00", 16)), str(10, ""))),
		"control":      wrap(nil, nil, ld(5, str(1, "tab\tbell\x07\\"))),
		"badutf8":      wrap(nil, nil, ld(5, str(1, "\xff\xfe"))),
		// The KeyValue fast path's edges, key first and value first.
		"kvshapes": wrap(nil, nil, raw(ld(6, kv("q\"\\\x01", str(1, "v\"\n"))), ld(6, raw(ld(2, vi(3, 1<<63)), str(1, "neg"))),
			ld(6, kv("b", vi(2, 7))), ld(6, kv("long", str(1, strings.Repeat("y", 200)))), ld(6, kv(strings.Repeat("k", 130), vi(3, 1))),
			ld(6, kv("two", raw(str(1, "s"), vi(3, 5)))), ld(6, kv("empty", nil)), ld(6, raw(ld(2, f64(4, math.Float64bits(math.NaN()))), str(1, "nan"))),
			ld(6, kv("d", f64(4, math.Float64bits(math.Copysign(0, -1))))), ld(6, raw(str(1, "k"), ld(2, str(1, "v")), vi(3, 0))))),
		"entityrefs": wrap(raw(ld(3, str(1, "u"), str(2, "t"), str(3, "k")), ld(1, kv("a", str(1, "b")))), nil, nil),
		// Refused by both.
		"badtraceid": wrap(nil, nil, str(9, "short")),
		"badspanid":  wrap(nil, nil, str(10, "short")),
		"wrongtype":  wrap(nil, nil, vi(1, 5)),
		"wrongflags": wrap(nil, nil, f64(8, 5)),
		"truncated":  sampleRequest()[:len(sampleRequest())-3],
		"field0":     {0x02, 0x00},
		"badentity":  wrap(raw(ld(3, vi(1, 1))), nil, nil),
		// Groups in unknown field 5: pdata ends a group at its first
		// scalar field, so only a group of groups closes cleanly.
		"endgroup":    {0x2c},
		"emptygroup":  raw([]byte{0x2b, 0x2b, 0x2c, 0x2c}, ld(1)),
		"groupscalar": raw([]byte{0x2b, 0x10, 0x01}, ld(1)),
		"groupclosed": raw([]byte{0x2b, 0x10, 0x01, 0x2c}),
		"tagatend":    {0x08},
		"wiretype7":   {0x0f, 0x00},
		"oldscopebad": ld(1, ld(2), ld(1000, ld(2, str(9, "bad")))),
		"replacedbad": wrap(nil, nil, ld(5, ld(5, ld(1, vi(1, 1))), str(1, "x"))),
		"overflow":    wrap(nil, nil, append(protowire.AppendTag(nil, 2, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
	}
	deep := str(1, "bottom")
	for i := 0; i < 120; i++ {
		deep = ld(5, ld(1, deep))
	}
	cases["deep"] = wrap(nil, nil, ld(5, deep))
	shallow := str(1, "bottom")
	for i := 0; i < 40; i++ {
		shallow = ld(6, ld(1, kv("k", shallow)))
	}
	cases["nested"] = wrap(nil, nil, ld(5, shallow))
	return cases
}

// The wire decoder stores exactly what pdata's decoding and the mapping
// store, and refuses exactly what pdata refuses.
func TestProtoMatchesPdata(t *testing.T) {
	for name, body := range wireCases() {
		t.Run(name, func(t *testing.T) { checkSame(t, body) })
	}
	// The benchmarks' 1000 records, and an SDK-shaped request.
	checkSame(t, otlpSample(t))
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("shop/cart")
	for i := 0; i < 50; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(1793700000e9 + i))
		lr.SetObservedTimestamp(pcommon.Timestamp(1793700001e9))
		lr.Body().SetEmptyBytes().FromRaw([]byte{byte(i), 0xff})
		lr.Attributes().PutEmptyMap("m").PutEmptySlice("s").AppendEmpty().SetBool(true)
		lr.SetTraceID(pcommon.TraceID{byte(i), 1})
		lr.SetSpanID(pcommon.SpanID{byte(i)})
	}
	b, _ := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	checkSame(t, b)
}

// A small body whose resource every record repeats is refused at the
// limit, by both paths, instead of growing without bound.
func TestAmplificationLimit(t *testing.T) {
	big := ld(1, kv("blob", str(1, strings.Repeat("x", 10000))))
	var recs [][]byte
	for i := 0; i < 200; i++ {
		recs = append(recs, ld(5, str(1, "r")))
	}
	body := wrap(big, nil, recs...)
	if out, e := Records(nil, body, Protobuf, Mapping{Max: 1 << 20}); e == nil || e.Status != 413 || len(out) != 0 {
		t.Fatalf("protobuf: %v, %d bytes; want 413 and nothing", e, len(out))
	}
	if out, e := Records(nil, body, Protobuf, Mapping{Max: 4 << 20}); e != nil || bytes.Count(out, []byte("\n")) != 200 {
		t.Fatalf("under the limit: %v", e)
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		t.Fatal(err)
	}
	js, _ := req.MarshalJSON()
	if _, e := Records(nil, js, JSON, Mapping{Max: 1 << 20}); e == nil || e.Status != 413 {
		t.Fatalf("JSON: %v; want 413", e)
	}
}

// FuzzProtoMatchesPdata: for any body the wire decoder and pdata agree,
// refusal for refusal and byte for byte.
func FuzzProtoMatchesPdata(f *testing.F) {
	for _, body := range wireCases() {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSame(t, body) })
}

// appendString escapes exactly what jsonx.AppendString escapes, wherever
// the byte falls in an eight-byte chunk.
func TestAppendString(t *testing.T) {
	for _, c := range []byte{0, 1, 0x1f, '"', '\\', 0x20, 0x7f, 0x80, 0xff, 'a'} {
		for pos := 0; pos < 20; pos++ {
			b := bytes.Repeat([]byte{'x'}, 20)
			b[pos] = c
			if got, want := appendString(nil, b), jsonx.AppendString(nil, string(b)); !bytes.Equal(got, want) {
				t.Fatalf("byte %#x at %d: %q, want %q", c, pos, got, want)
			}
		}
	}
}

// otlp.resource: flat stores each resource attribute as a top-level
// "resource.<key>" member, in place of the "resource" object.
func TestFlatResource(t *testing.T) {
	body := wrap(raw(ld(1, kv("service.name", str(1, "api"))), ld(1, kv("k8s \"pod\"", vi(3, 7)))), nil, ld(5, str(1, "hi")))
	for _, c := range []struct {
		m    Mapping
		want string
	}{
		{Mapping{}, `{"body":"hi","resource":{"service.name":"api","k8s \"pod\"":7}}` + "\n"},
		{Mapping{FlatResource: true}, `{"body":"hi","resource.service.name":"api","resource.k8s \"pod\"":7}` + "\n"},
	} {
		got, err := RecordsProto(nil, body, c.m)
		if err != nil || string(got) != c.want {
			t.Errorf("%+v: %s %v, want %s", c.m, got, err, c.want)
		}
	}
	// A record with nothing before the resource starts with it.
	got, _ := RecordsProto(nil, wrap(ld(1, kv("a", str(1, "b"))), nil, nil), Mapping{FlatResource: true})
	if string(got) != `{"resource.a":"b"}`+"\n" {
		t.Errorf("flat resource first: %s", got)
	}
}
