package gobin

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	gopath := t.TempDir()
	os.MkdirAll(filepath.Join(gopath, "bin"), 0o755)
	prog := filepath.Join(gopath, "bin", "ingestd-gobin-test")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOPATH", gopath)
	if got := Find("ingestd-gobin-test"); got != prog {
		t.Fatalf("in GOPATH/bin: %q, want %q", got, prog)
	}
	if got := Find("sh"); got == "" {
		t.Fatal("sh on the PATH not found")
	}
	if got := Find("ingestd-no-such-program"); got != "" {
		t.Fatalf("missing program: %q", got)
	}
}
