package main

import (
	"bytes"
	"strings"
	"testing"
)

// The report's progress: a log line at most every 5 s when stderr is not a
// terminal, a bar when it is.
func TestProgressOutput(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false)
	p.Update(500, 1000, 5e6)
	p.Update(600, 1000, 6e6) // within 5 s: not printed
	if got := b.String(); !strings.HasPrefix(got, "report: 50.0% 500/1000 records") || strings.Count(got, "\n") != 1 {
		t.Fatalf("log line %q", got)
	}
	b.Reset()
	p = newProgress(&b, true)
	p.Update(250, 1000, 1e6)
	p.finish()
	if got := b.String(); !strings.HasPrefix(got, "\r[=======") || !strings.Contains(got, "25.0%") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("bar %q", got)
	}
}
