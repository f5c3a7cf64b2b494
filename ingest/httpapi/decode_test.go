package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

func TestRequestBudget(t *testing.T) {
	d := &decoders{budget: &byteBudget{max: 1 << 20}}
	body := bytes.Repeat([]byte("x"), 300<<10)
	out, bp, err := d.readAll(bytes.NewReader(body), 4<<20, "body")
	if err != nil || len(out) != len(body) {
		t.Fatal(err)
	}
	if used := d.budget.used.Load(); used < int64(len(body)) || used > 1<<20 {
		t.Fatalf("a 300 KiB body holds %d bytes of the budget", used)
	}
	// While it is held, a second body that needs more than what is left is refused.
	if _, _, err := d.readAll(bytes.NewReader(bytes.Repeat([]byte("y"), 900<<10)), 4<<20, "body"); !errors.Is(err, errBusy) {
		t.Fatalf("over the budget: %v", err)
	}
	d.put(bp)
	if used := d.budget.used.Load(); used != 0 {
		t.Fatalf("after put: %d bytes still held", used)
	}
	// Now it fits; every path gives its bytes back.
	for _, n := range []int{900 << 10, 5 << 20} {
		_, bp, _ := d.readAll(bytes.NewReader(bytes.Repeat([]byte("z"), n)), 1<<20-1, "body")
		d.put(bp)
	}
	if used := d.budget.used.Load(); used != 0 {
		t.Fatalf("leaked %d bytes of the budget", used)
	}
}

// TestCorruptBodyNamesTheEncodingOnce: a gzip body with a bad CRC says
// "gzip: invalid checksum", not "gzip: gzip: invalid checksum".
func TestCorruptBodyNamesTheEncodingOnce(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(`{"a":1}` + "\n"))
	zw.Close()
	b := zb.Bytes()
	b[len(b)-8] ^= 0xff // the CRC-32 in the trailer
	d := &decoders{budget: &byteBudget{max: 1 << 20}}
	_, _, err := d.decode([]byte("gzip"), b, 1<<20)
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "gzip: invalid checksum") || strings.Contains(err.Error(), "gzip: gzip") {
		t.Fatalf("bad CRC: %v", err)
	}
	_, _, err = d.decode([]byte("gzip"), []byte("not gzip at all"), 1<<20)
	if !errors.Is(err, errCorrupt) || strings.Count(err.Error(), "gzip") != 1 {
		t.Fatalf("bad header: %v", err)
	}
}
