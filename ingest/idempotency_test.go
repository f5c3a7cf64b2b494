package ingest

import (
	"os"
	"testing"
	"time"
)

func TestKeysJournal(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	k, err := OpenKeys(dir, time.Hour, 100, true, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(key, resp string) *reqState { return &reqState{key: key, resp: []byte(resp)} }
	// seq 1..3 journaled; the WAL will only reach 2 (3 never committed).
	if err := k.preCommit(1, []any{mk("a", `{"accepted":1}`), &reqState{}, mk("c", `{"accepted":3}`)}); err != nil {
		t.Fatal(err)
	}
	k.Close()
	k, err = OpenKeys(dir, time.Hour, 100, true, 2, now)
	if err != nil {
		t.Fatal(err)
	}
	if ans, ok := k.Begin("a", now); !ok || string(ans) != `{"accepted":1}` {
		t.Fatalf("a: %q %v", ans, ok)
	}
	if _, ok := k.Begin("c", now); ok {
		t.Fatal("key of an uncommitted entry (seq 3) was kept")
	}
	k.Finish("c", nil, false)
	k.Close()
	// A torn tail is dropped; expiry drops old keys.
	f, _ := os.OpenFile(keysPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{9, 0, 0})
	f.Close()
	k, err = OpenKeys(dir, time.Hour, 100, true, 10, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 0 {
		t.Fatalf("%d keys after the window", k.Len())
	}
	if st, _ := os.Stat(keysPath(dir)); st.Size() != 0 {
		t.Fatalf("journal not compacted: %d bytes", st.Size())
	}
}

func TestKeysReleaseOnFailureAndCap(t *testing.T) {
	k, err := OpenKeys(t.TempDir(), time.Hour, 2, false, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, ok := k.Begin("x", now); ok {
		t.Fatal("fresh key replayed")
	}
	k.Finish("x", nil, false) // failed: released
	if _, ok := k.Begin("x", now); ok {
		t.Fatal("failed key replayed")
	}
	k.Finish("x", []byte("A"), true)
	for _, key := range []string{"y", "z"} {
		k.Begin(key, now)
		k.Finish(key, []byte(key), true)
	}
	k.Begin("w", now) // over max_keys: the oldest (x) goes
	if _, ok := k.Begin("x", now); ok {
		t.Fatal("oldest key kept beyond max_keys")
	}
}
