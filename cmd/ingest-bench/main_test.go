package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHelpExplainsEveryOption(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-url", "-token", "-seed", "-shape", "-batch", "-form", "-compression", "-days", "-invalid",
		"-conns", "-rate", "-duration", "-warmup", "-requests", "-records", "-timeout", "-pid", "-data-dir", "-ack-log", "-out", "-verify", "-quiet"} {
		if !strings.Contains(errb.String(), "  "+f) {
			t.Errorf("--help does not explain %s", f)
		}
	}
}

func TestBadOptionsExit2(t *testing.T) {
	for _, args := range [][]string{{"--shape", "xml"}, {"--compression", "br"}, {"--verify", "/tmp"}, {"extra"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}
