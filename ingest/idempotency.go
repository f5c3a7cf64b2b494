package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
)

// Keys remembers the answers to requests sent with an Idempotency-Key, for
// a window, across restarts and crashes.
//
// Durability: a key's record is appended to <data-dir>/idempotency/keys.log
// by the WAL writer goroutine (PreCommit) in the same group commit as the
// request's WAL entry, written (and in fsync=always, fdatasynced) before the
// entry, so a durable entry always has its key record. A record whose
// sequence the WAL does not reach after recovery belongs to a request that
// never committed and is dropped on start.
//
//	record: u32 length | u32 CRC-32C | u64 seq | i64 unix ns | u16 key length | key | [u64 digest] | answer
//
// The top bit of the key length says a digest follows the key: xxhash64 of
// the request's path and query and its decoded body. A key reused with a
// different request is refused (422) instead of being answered with the
// first request's answer. Records written before digests have none and are
// replayed without the check.
type Keys struct {
	window  time.Duration
	maxKeys int
	sync    bool // fdatasync the journal in preCommit

	mu    sync.Mutex // guards m and order
	m     map[string]*keyEntry
	order []string // keys in insertion order, for expiry; may hold released names

	// owned by the WAL writer goroutine
	f    *os.File
	buf  []byte
	size int64 // bytes in the journal: a WAL run's records end here (continuous shipping)
}

type keyEntry struct {
	at     time.Time
	digest uint64        // of the first request; 0 = unknown (a journal record from before digests)
	seq    uint64        // the first request's WAL entry; set before done is closed
	answer []byte        // the 200 body; set before done is closed
	done   chan struct{} // closed when the first request finished
	ok     bool          // the first request succeeded; set before done is closed
}

const maxKeyLen = 256

// errKeyFormat rejects an unusable key.
var errKeyFormat = errors.New("Idempotency-Key must be 1 to 256 printable ASCII characters")

// errKeyReused refuses a key sent again with a different request (422).
var errKeyReused = errors.New("Idempotency-Key was already used for a different request (another path, query or body); send a new key for a new request")

// hasDigest flags a journal record's key length: a digest follows the key.
const hasDigest = 0x8000

func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > maxKeyLen {
		return false
	}
	for _, c := range k {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// KeysPath returns the Idempotency-Key journal of a data dir.
func KeysPath(dataDir string) string { return keysPath(dataDir) }

func keysPath(dataDir string) string { return filepath.Join(dataDir, "idempotency", "keys.log") }

// OpenKeys loads the journal, dropping records beyond walLast (never
// committed), torn or older than window, rewrites it compacted (temp, sync,
// rename, sync dir) and opens it for appending.
func OpenKeys(dataDir string, window time.Duration, maxKeys int, syncEach bool, walLast uint64, now time.Time) (*Keys, error) {
	k := &Keys{window: window, maxKeys: maxKeys, sync: syncEach, m: map[string]*keyEntry{}}
	p := keysPath(dataDir)
	failpoint.Hit("ingest.OpenKeys.mkdirdurable")
	if err := fsutil.MkdirDurable(filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	var keep []byte
	if f, err := os.Open(p); err == nil {
		r := bufio.NewReaderSize(f, 1<<20)
		var hdr [8]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				break // end, or a torn tail: the rewrite drops it
			}
			n := binary.LittleEndian.Uint32(hdr[:])
			if n < 18 || n > 1<<20 {
				break
			}
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil || crc32.Checksum(body, castagnoliTable) != binary.LittleEndian.Uint32(hdr[4:]) {
				break
			}
			seq := binary.LittleEndian.Uint64(body)
			at := time.Unix(0, int64(binary.LittleEndian.Uint64(body[8:])))
			kl := int(binary.LittleEndian.Uint16(body[16:]))
			var digest uint64
			ans := 18 + kl&^hasDigest
			if kl&hasDigest != 0 && ans+8 <= len(body) {
				digest = binary.LittleEndian.Uint64(body[ans:])
				ans += 8
			}
			if ans > len(body) || seq > walLast || now.Sub(at) > window {
				continue
			}
			k.put(string(body[18:18+kl&^hasDigest]), seq, at, digest, body[ans:])
			keep = append(keep, hdr[:]...)
			keep = append(keep, body...)
		}
		f.Close()
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("idempotency: open %s: %w", p, err)
	}
	failpoint.Hit("ingest.OpenKeys.writefiledurable")
	if err := fsutil.WriteFileDurable(p, keep); err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("idempotency: open %s: %w", p, err)
	}
	k.f, k.size = f, int64(len(keep))
	return k, nil
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// put records a finished key (journal load).
func (k *Keys) put(key string, seq uint64, at time.Time, digest uint64, answer []byte) {
	e := &keyEntry{at: at, seq: seq, digest: digest, answer: append([]byte(nil), answer...), done: make(chan struct{}), ok: true}
	close(e.done)
	if _, ok := k.m[key]; !ok {
		k.order = append(k.order, key)
	}
	k.m[key] = e
}

// Begin claims key for a request whose digest (see Keys; 0 = none) is
// given. If an earlier request with the key succeeded, it returns that
// answer (replay=true), or errKeyReused when that request's digest differs.
// If one is in flight, it waits for its outcome. Otherwise the caller owns
// the key and must call Finish. seq is a replayed answer's WAL entry.
func (k *Keys) Begin(key string, digest uint64, now time.Time) (answer []byte, seq uint64, replay bool, err error) {
	for {
		k.mu.Lock()
		k.expire(now)
		e := k.m[key]
		if e == nil {
			k.m[key] = &keyEntry{at: now, digest: digest, done: make(chan struct{})}
			k.order = append(k.order, key)
			k.mu.Unlock()
			return nil, 0, false, nil
		}
		k.mu.Unlock()
		if e.digest != 0 && digest != 0 && e.digest != digest {
			return nil, 0, false, errKeyReused
		}
		<-e.done
		if e.ok {
			return e.answer, e.seq, true, nil
		}
		// The first attempt failed and released the key: claim it anew.
	}
}

// Finish ends a claim: ok with the answer once the request is committed
// (as WAL entry seq), or not ok, which releases the key so that a retry is
// processed anew.
func (k *Keys) Finish(key string, answer []byte, ok bool, seq uint64) {
	k.mu.Lock()
	e := k.m[key]
	if e != nil && !ok {
		delete(k.m, key)
	}
	k.mu.Unlock()
	if e == nil {
		return
	}
	if ok {
		e.answer = append([]byte(nil), answer...)
		e.seq = seq
	}
	e.ok = ok
	close(e.done)
}

// expire drops finished keys past the window, and the oldest beyond
// maxKeys; it stops at the first key it must keep. Called with k.mu held.
func (k *Keys) expire(now time.Time) {
	i := 0
scan:
	for ; i < len(k.order); i++ {
		name := k.order[i]
		e := k.m[name]
		if e == nil {
			continue // released after a failure
		}
		if now.Sub(e.at) <= k.window && len(k.order)-i <= k.maxKeys {
			break
		}
		select {
		case <-e.done:
			delete(k.m, name)
		default:
			break scan // still in flight
		}
	}
	if i > 0 {
		k.order = append(k.order[:0], k.order[i:]...)
	}
}

// Len returns how many keys are remembered.
func (k *Keys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// preCommit journals the keys of a WAL batch (see Keys). It runs on the WAL
// writer goroutine, before the batch is written.
func (k *Keys) preCommit(first uint64, metas []*reqState) error {
	k.buf = k.buf[:0]
	now := time.Now().UnixNano()
	for i, st := range metas {
		if st == nil || st.key == "" {
			continue
		}
		start := len(k.buf)
		k.buf = append(k.buf, make([]byte, 8)...)
		k.buf = binary.LittleEndian.AppendUint64(k.buf, first+uint64(i))
		k.buf = binary.LittleEndian.AppendUint64(k.buf, uint64(now))
		// A key is always set with its request's digest (Write.Key), never 0;
		// records without one are only read, from journals written before.
		k.buf = binary.LittleEndian.AppendUint16(k.buf, uint16(len(st.key))|hasDigest)
		k.buf = append(k.buf, st.key...)
		k.buf = binary.LittleEndian.AppendUint64(k.buf, st.digest)
		k.buf = append(k.buf, st.resp...)
		body := k.buf[start+8:]
		binary.LittleEndian.PutUint32(k.buf[start:], uint32(len(body)))
		binary.LittleEndian.PutUint32(k.buf[start+4:], crc32.Checksum(body, castagnoliTable))
	}
	if len(k.buf) == 0 {
		return nil
	}
	failpoint.Hit("ingest.preCommit.write")
	n, err := k.f.Write(k.buf)
	k.size += int64(n)
	if err != nil {
		return fmt.Errorf("idempotency: write journal: %w", err)
	}
	if k.sync {
		failpoint.Hit("ingest.preCommit.fdatasync")
		if err := fsutil.Fdatasync(k.f); err != nil {
			return fmt.Errorf("idempotency: sync journal: %w", err)
		}
	}
	return nil
}

// Close closes the journal.
func (k *Keys) Close() error {
	if k == nil || k.f == nil {
		return nil
	}
	return k.f.Close()
}
