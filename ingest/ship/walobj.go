package ship

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
)

// A WAL object is a run of a node's write-ahead log in the bucket, with the
// Idempotency-Key journal records written for those entries (docs/FORMAT.md,
// "WAL objects"):
//
//	<prefix>/wal/<node>/<first 16 hex>-<last 16 hex>.walo
//
//	"IDWALOB1" | u64 first | u64 last | u32 keys length | u32 CRC-32C of the 28 bytes before
//	key journal records (ingest's keys.log format) | WAL entries (ingest/wal's file format)
//
// Objects overlap only after a restart that re-uploads a run it had not
// recorded as shipped; readers take each sequence once. The node's key
// journal as a whole is kept at <prefix>/wal/<node>/keys (put before WAL
// objects are pruned), and its liveness at <prefix>/nodes/<node>.heartbeat.

const (
	walMagic      = "IDWALOB1"
	walHeaderSize = 8 + 8 + 8 + 4 + 4
	walSuffix     = ".walo"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// WALObject is one WAL object's name and sequence range.
type WALObject struct {
	Key         string
	First, Last uint64
	Size        int64
}

// walDir returns <prefix>/wal/<node>/.
func walDir(prefix, node string) string {
	k := "wal/" + node + "/"
	if p := strings.Trim(prefix, "/"); p != "" {
		k = p + "/" + k
	}
	return k
}

// WALKey returns the key of the WAL object of entries first..last.
func WALKey(prefix, node string, first, last uint64) string {
	return fmt.Sprintf("%s%016x-%016x%s", walDir(prefix, node), first, last, walSuffix)
}

// KeysKey returns the key of a node's key journal snapshot.
func KeysKey(prefix, node string) string { return walDir(prefix, node) + "keys" }

// HeartbeatKey returns the key of a node's heartbeat object.
func HeartbeatKey(prefix, node string) string {
	k := "nodes/" + node + ".heartbeat"
	if p := strings.Trim(prefix, "/"); p != "" {
		k = p + "/" + k
	}
	return k
}

// parseWALKey reads a WAL object's range from its key.
func parseWALKey(key string) (first, last uint64, ok bool) {
	base, found := strings.CutSuffix(path.Base(key), walSuffix)
	a, b, found2 := strings.Cut(base, "-")
	if !found || !found2 || len(a) != 16 || len(b) != 16 {
		return 0, 0, false
	}
	first, err1 := strconv.ParseUint(a, 16, 64)
	last, err2 := strconv.ParseUint(b, 16, 64)
	return first, last, err1 == nil && err2 == nil && first > 0 && first <= last
}

// ListWAL returns a node's WAL objects, by first sequence. stop, when set,
// ends the listing at the first object for which it is true (keys list in
// sequence order).
func ListWAL(ctx context.Context, c *minio.Client, bucket, prefix, node string, stop func(WALObject) bool) ([]WALObject, error) {
	var out []WALObject
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range c.ListObjects(lctx, bucket, minio.ListObjectsOptions{Prefix: walDir(prefix, node), Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("ship: list WAL objects: %w", o.Err)
		}
		first, last, ok := parseWALKey(o.Key)
		if !ok {
			continue
		}
		w := WALObject{Key: o.Key, First: first, Last: last, Size: o.Size}
		if stop != nil && stop(w) {
			break
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].First < out[j].First })
	return out, nil
}

// AppendWALObject appends a WAL object of entries first..last to dst.
func AppendWALObject(dst []byte, first, last uint64, keys, entries []byte) []byte {
	h := len(dst)
	dst = append(dst, walMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, first)
	dst = binary.LittleEndian.AppendUint64(dst, last)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(keys)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[h:], crcTable))
	dst = append(dst, keys...)
	return append(dst, entries...)
}

// ParseWALObject splits a WAL object into its range, its key journal records
// and its WAL entries (checked by the readers of each: wal.Entries).
func ParseWALObject(b []byte) (first, last uint64, keys, entries []byte, err error) {
	if len(b) < walHeaderSize || string(b[:8]) != walMagic {
		return 0, 0, nil, nil, errors.New("not a WAL object (bad magic)")
	}
	if crc32.Checksum(b[:28], crcTable) != binary.LittleEndian.Uint32(b[28:]) {
		return 0, 0, nil, nil, errors.New("WAL object header checksum mismatch")
	}
	first = binary.LittleEndian.Uint64(b[8:])
	last = binary.LittleEndian.Uint64(b[16:])
	kl := int64(binary.LittleEndian.Uint32(b[24:]))
	if kl > int64(len(b)-walHeaderSize) || first == 0 || first > last {
		return 0, 0, nil, nil, fmt.Errorf("WAL object header out of range (entries %d-%d, keys %d bytes)", first, last, kl)
	}
	return first, last, b[walHeaderSize : walHeaderSize+kl], b[walHeaderSize+kl:], nil
}
