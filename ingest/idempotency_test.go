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
	if err := k.preCommit(1, []*reqState{mk("a", `{"accepted":1}`), &reqState{}, mk("c", `{"accepted":3}`)}); err != nil {
		t.Fatal(err)
	}
	k.Close()
	k, err = OpenKeys(dir, time.Hour, 100, true, 2, now)
	if err != nil {
		t.Fatal(err)
	}
	if ans, _, ok, _ := k.Begin("a", 0, now); !ok || string(ans) != `{"accepted":1}` {
		t.Fatalf("a: %q %v", ans, ok)
	}
	if _, _, ok, _ := k.Begin("c", 0, now); ok {
		t.Fatal("key of an uncommitted entry (seq 3) was kept")
	}
	k.Finish("c", nil, false, 0)
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
	if _, _, ok, _ := k.Begin("x", 0, now); ok {
		t.Fatal("fresh key replayed")
	}
	k.Finish("x", nil, false, 0) // failed: released
	if _, _, ok, _ := k.Begin("x", 0, now); ok {
		t.Fatal("failed key replayed")
	}
	k.Finish("x", []byte("A"), true, 0)
	for _, key := range []string{"y", "z"} {
		k.Begin(key, 0, now)
		k.Finish(key, []byte(key), true, 0)
	}
	k.Begin("w", 0, now) // over max_keys: the oldest (x) goes
	if _, _, ok, _ := k.Begin("x", 0, now); ok {
		t.Fatal("oldest key kept beyond max_keys")
	}
}

// TestKeyReusedWithAnotherRequest: a key's digest is journaled; the same
// key with another digest is refused, also after a restart; a record from
// before digests (none stored) is replayed whatever the digest.
func TestKeyReusedWithAnotherRequest(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	k, err := OpenKeys(dir, time.Hour, 100, true, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, replay, err := k.Begin("d", 42, now); replay || err != nil {
		t.Fatalf("first: %v %v", replay, err)
	}
	if err := k.preCommit(1, []*reqState{&reqState{key: "d", digest: 42, resp: []byte(`{"accepted":2}`)}, &reqState{key: "old", resp: []byte(`{"accepted":5}`)}}); err != nil {
		t.Fatal(err)
	}
	k.Finish("d", []byte(`{"accepted":2}`), true, 0)
	if _, _, _, err := k.Begin("d", 43, now); err != errKeyReused {
		t.Fatalf("another digest: %v", err)
	}
	k.Close()
	k, err = OpenKeys(dir, time.Hour, 100, true, 2, now)
	if err != nil {
		t.Fatal(err)
	}
	if ans, _, replay, err := k.Begin("d", 42, now); !replay || err != nil || string(ans) != `{"accepted":2}` {
		t.Fatalf("same digest after restart: %q %v %v", ans, replay, err)
	}
	if _, _, _, err := k.Begin("d", 7, now); err != errKeyReused {
		t.Fatalf("another digest after restart: %v", err)
	}
	if ans, _, replay, err := k.Begin("old", 99, now); !replay || err != nil || string(ans) != `{"accepted":5}` {
		t.Fatalf("a record without a digest: %q %v %v", ans, replay, err)
	}
}
