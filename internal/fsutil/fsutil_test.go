package fsutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Writers of one path at the same time all succeed, the file holds one of
// their contents whole, and no temporary file is left: the daemon and a
// report child both write a day's partial.
func TestWriteFileDurableConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vm.partial.json")
	contents := make([][]byte, 8)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte(fmt.Sprintf("writer %d\n", i)), 20000)
	}
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		errs := make([]error, len(contents))
		for i := range contents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = WriteFileDurable(path, contents[i])
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, writer %d: %v", round, i, err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		whole := false
		for _, c := range contents {
			whole = whole || bytes.Equal(got, c)
		}
		if !whole {
			t.Fatalf("round %d: the file is no writer's whole content (%d bytes)", round, len(got))
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("round %d: %d files left beside it", round, len(ents))
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v (want 0600)", fi.Mode(), err)
	}
}
