package powercut

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/testenv"
)

// mount mounts a new FS in a temporary folder, or skips when the machine
// cannot mount FUSE.
func mount(t *testing.T) (*FS, string) {
	t.Helper()
	if err := Available(); err != nil {
		testenv.Missing(t, "the power-cut filesystem ("+err.Error()+")", "root and /dev/fuse, or apt-get install fuse3")
	}
	dir := t.TempDir()
	f := New()
	if err := f.Mount(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unmount() })
	return f, dir
}

func write(t *testing.T, path string, data []byte, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// TestPowerCutModel checks each rule of the package comment: what a cut
// keeps and what it throws away.
func TestPowerCutModel(t *testing.T) {
	f, dir := mount(t)
	p := func(s ...string) string { return filepath.Join(append([]string{dir}, s...)...) }

	// A file whose name is synced but whose data is only partly.
	write(t, p("partly"), []byte("synced;"), true)
	// A folder made durable in its parent, with a durable file inside.
	if err := os.Mkdir(p("d"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, p("d", "kept"), []byte("kept"), true)
	syncDir(t, p("d"))
	// A durable file renamed and removed without a later fsync of the folder.
	write(t, p("renamed"), []byte("old name"), true)
	write(t, p("removed"), []byte("still here"), true)
	syncDir(t, dir)
	write(t, p("partly"), []byte("lost"), false)
	// Nested folders each synced but the top one, whose entry in the root
	// is not durable: the whole subtree is lost.
	if err := os.MkdirAll(p("g", "h", "i"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, p("g", "h", "i", "x"), []byte("x"), true)
	syncDir(t, p("g", "h", "i"))
	syncDir(t, p("g", "h"))
	syncDir(t, p("g"))
	if err := os.Rename(p("renamed"), p("new-name")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p("removed")); err != nil {
		t.Fatal(err)
	}
	// Written, its name synced, never its data.
	write(t, p("d", "empty"), []byte("never synced"), false)
	syncDir(t, p("d"))
	// A file whose data is synced but whose name is not.
	write(t, p("unsynced-name"), []byte("a"), true)
	if got, _ := read(t, p("partly")); got != "synced;lost" {
		t.Fatalf("live content %q", got)
	}

	rep, err := f.Cut(CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cut: %v", rep)
	want := map[string]string{ // "" with ok=false: absent
		"unsynced-name": "-",
		"partly":        "synced;",
		"d/kept":        "kept",
		"g":             "-",
		"d/empty":       "",
		"renamed":       "old name",
		"new-name":      "-",
		"removed":       "still here",
	}
	for name, w := range want {
		var got string
		_, err := os.Stat(p(filepath.FromSlash(name)))
		ok := err == nil
		if ok && name != "g" {
			got, _ = read(t, p(filepath.FromSlash(name)))
		}
		switch {
		case w == "-" && ok:
			t.Errorf("%s survived the cut (%q)", name, got)
		case w != "-" && !ok:
			t.Errorf("%s was lost", name)
		case w != "-" && got != w:
			t.Errorf("%s = %q after the cut, want %q", name, got, w)
		}
	}
	if rep.LostNames == 0 || rep.DroppedOps == 0 {
		t.Errorf("the report counts nothing: %v", rep)
	}
	// What survived is durable now: a second cut keeps it all.
	if _, err := f.Cut(CutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(t, p("d", "kept")); got != "kept" {
		t.Errorf("second cut lost d/kept: %q", got)
	}
}

// TestTornWriteback: a torn cut keeps a prefix of the pending writes, in
// order, never bytes of a later write without the earlier ones.
func TestTornWriteback(t *testing.T) {
	f, dir := mount(t)
	path := filepath.Join(dir, "log")
	write(t, path, []byte("durable|"), true)
	syncDir(t, dir)
	var all bytes.Buffer
	all.WriteString("durable|")
	for i := 0; i < 20; i++ {
		chunk := bytes.Repeat([]byte{byte('a' + i)}, 100+i)
		all.Write(chunk)
		write(t, path, chunk, false)
	}
	rng := rand.New(rand.NewSource(1))
	lengths := map[int]bool{}
	for round := 0; round < 20; round++ {
		// Each round starts from the same pending state.
		if round > 0 {
			resetDurable(t, path)
			for i := 0; i < 20; i++ {
				write(t, path, all.Bytes()[8+sum(i):8+sum(i+1)], false)
			}
		}
		if _, err := f.Cut(CutOptions{Torn: true, Rand: rng}); err != nil {
			t.Fatal(err)
		}
		got, ok := read(t, path)
		if !ok || !bytes.HasPrefix(all.Bytes(), []byte(got)) || len(got) < len("durable|") {
			t.Fatalf("torn cut left %q, not a prefix of what was written", got)
		}
		lengths[len(got)] = true
	}
	if len(lengths) < 5 {
		t.Errorf("torn cuts kept only %d different lengths: %v", len(lengths), lengths)
	}
}

// resetDurable makes path hold "durable|", synced, with nothing pending.
func resetDurable(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("durable|"), 0o600); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
}

func sum(i int) int { // bytes of the first i chunks of TestTornWriteback
	n := 0
	for k := 0; k < i; k++ {
		n += 100 + k
	}
	return n
}

// TestTearLast: every pending write but the last survives, and the last
// is cut short, never kept whole or dropped whole.
func TestTearLast(t *testing.T) {
	f, dir := mount(t)
	path := filepath.Join(dir, "log")
	write(t, path, []byte("durable|"), true)
	syncDir(t, dir)
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 10; round++ {
		if round > 0 {
			resetDurable(t, path)
		}
		write(t, path, []byte("first|"), false)
		write(t, path, []byte("second-write"), false)
		if _, err := f.Cut(CutOptions{TearLast: true, Rand: rng}); err != nil {
			t.Fatal(err)
		}
		got, _ := read(t, path)
		rest, ok := strings.CutPrefix(got, "durable|first|")
		if !ok || len(rest) == 0 || len(rest) >= len("second-write") || !strings.HasPrefix("second-write", rest) {
			t.Fatalf("round %d: a cut with TearLast left %q", round, got)
		}
	}
}
