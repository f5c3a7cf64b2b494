package confcheck

import (
	"errors"
	"testing"
)

func TestList(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatal("an empty list is an error")
	}
	l.Check(true, "a.b", 1, "want 1")
	l.Check(false, "segments.block_size", 5, "want 4KiB..32MiB")
	l.Add(nil)
	l.Add(errors.New("config: tls: set both"))
	if got := l.Err().Error(); got != "config: segments.block_size: 5 (want 4KiB..32MiB)\nconfig: tls: set both" {
		t.Fatalf("%q", got)
	}
}
