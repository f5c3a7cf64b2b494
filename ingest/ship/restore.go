package ship

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
	"github.com/ingestd/ingestd/segment"
)

// RestorePlan is what Restore found, and did unless it was a dry run.
type RestorePlan struct {
	Node       string
	WALObjects int      // WAL objects read
	First      uint64   // first WAL entry restored (0: none)
	Last       uint64   // last WAL entry restored
	Skipped    []string // WAL objects after a gap, not restored (writes never acknowledged under ack bucket)
	KeyBytes   int      // key journal bytes restored
	Days       []string // days whose segment objects were downloaded (their files hold entries the WAL objects also hold)
	Files      int      // segment objects downloaded
	Bytes      int64    // their bytes
	SegmentMax uint64   // the highest sequence in the node's segment objects
	Next       uint64   // the sequence the node goes on from
}

// ErrAlive refuses to restore a node whose heartbeat is recent.
var ErrAlive = errors.New("the node is alive")

// Restore rebuilds the data dir of node, whose disk is gone, from its
// objects: the WAL objects become its write-ahead log (each sequence once,
// up to the first gap), the key journal snapshot and the objects' key
// records its Idempotency-Key journal, and the segment objects of every day
// holding an entry the WAL objects also hold are downloaded (with shipped
// markers), so that the daemon's recovery replays exactly the entries the
// segments lack, as it does locally. Sequence numbers go on above the
// highest in the bucket. dataDir must be empty or absent; a node whose
// heartbeat is recent is refused unless force.
func (s *Source) Restore(ctx context.Context, node, dataDir string, dryRun, force bool) (RestorePlan, error) {
	p := RestorePlan{Node: node}
	if err := segment.CheckNode(node); err != nil {
		return p, err
	}
	if ents, err := os.ReadDir(dataDir); err == nil && len(ents) > 0 {
		return p, fmt.Errorf("restore: %s is not empty: restore into a new directory (after an interrupted restore, delete it and run restore again)", dataDir)
	} else if err != nil && !os.IsNotExist(err) {
		return p, fmt.Errorf("restore: %w", err)
	}
	if err := s.checkAlive(ctx, node, force); err != nil {
		return p, err
	}
	walDir := filepath.Join(dataDir, "wal")
	var out *os.File
	if !dryRun {
		failpoint.Hit("ship.Restore.mkdir")
		if err := fsutil.MkdirDurable(walDir); err != nil {
			return p, fmt.Errorf("restore: %w", err)
		}
	}
	// The WAL objects, in sequence order, each entry once.
	objs, err := ListWAL(ctx, s.c, s.bucket, s.prefix, node, nil)
	if err != nil {
		return p, err
	}
	var keys []byte
	if b, err := s.get(ctx, KeysKey(s.prefix, node)); err == nil {
		keys = append(keys, b...)
	} else if minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return p, fmt.Errorf("restore: key journal: %w", err)
	}
	for i, o := range objs {
		if p.Last != 0 && o.First > p.Last+1 {
			for _, rest := range objs[i:] {
				p.Skipped = append(p.Skipped, rest.Key)
			}
			break
		}
		if o.Last <= p.Last {
			continue
		}
		b, err := s.get(ctx, o.Key)
		if err != nil {
			return p, fmt.Errorf("restore: %w", err)
		}
		first, last, k, entries, err := ParseWALObject(b)
		if err != nil || first != o.First || last != o.Last {
			return p, fmt.Errorf("restore: %s: %v (range %d-%d)", o.Key, err, first, last)
		}
		p.WALObjects++
		keys = append(keys, k...)
		var buf []byte
		err = wal.Entries(entries, func(seq uint64, e []byte) error {
			if seq <= p.Last {
				return nil
			}
			if p.Last != 0 && seq != p.Last+1 {
				return fmt.Errorf("entry %d follows %d", seq, p.Last)
			}
			if p.First == 0 {
				p.First = seq
			}
			p.Last = seq
			buf = append(buf, e...)
			return nil
		})
		if err != nil {
			return p, fmt.Errorf("restore: %s: %w", o.Key, err)
		}
		if dryRun || len(buf) == 0 {
			continue
		}
		if out == nil {
			failpoint.Hit("ship.Restore.create")
			if out, err = os.OpenFile(filepath.Join(walDir, fmt.Sprintf("%016x.wal", p.First)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
				return p, fmt.Errorf("restore: %w", err)
			}
			defer out.Close()
		}
		failpoint.Hit("ship.Restore.write")
		if _, err := out.Write(buf); err != nil {
			return p, fmt.Errorf("restore: %w", err)
		}
	}
	p.KeyBytes = len(keys)
	// The node's segment objects: a day with an entry at or above the
	// first restored one is downloaded, so recovery skips what it holds.
	days, err := s.nodeDays(ctx, node)
	if err != nil {
		return p, err
	}
	var download []minio.ObjectInfo
	for _, d := range days {
		dayMax := uint64(0)
		for _, o := range d.objs {
			m, err := s.maxSeq(o.Key)
			if err != nil {
				return p, err
			}
			dayMax = max(dayMax, m)
		}
		p.SegmentMax = max(p.SegmentMax, dayMax)
		if p.First != 0 && dayMax >= p.First {
			p.Days = append(p.Days, d.day)
			download = append(download, d.objs...)
		}
	}
	p.Next = max(p.Last, p.SegmentMax) + 1
	if dryRun {
		for _, o := range download {
			p.Files++
			p.Bytes += o.Size
		}
		return p, nil
	}
	for _, o := range download {
		n, err := s.download(ctx, o, dataDir)
		if err != nil {
			return p, err
		}
		p.Files++
		p.Bytes += n
	}
	if out != nil {
		failpoint.Hit("ship.Restore.sync")
		if err := out.Sync(); err != nil {
			return p, fmt.Errorf("restore: %w", err)
		}
	}
	if p.Next > p.Last+1 || out == nil {
		// No entry, or segments beyond them: an empty log file named
		// after the next sequence carries it to the daemon.
		failpoint.Hit("ship.Restore.next")
		if err := fsutil.WriteFileDurable(filepath.Join(walDir, fmt.Sprintf("%016x.wal", p.Next)), nil); err != nil {
			return p, fmt.Errorf("restore: %w", err)
		}
	}
	failpoint.Hit("ship.Restore.keys")
	if err := fsutil.MkdirDurable(filepath.Join(dataDir, "idempotency")); err == nil {
		failpoint.Hit("ship.Restore.keys.write")
		err = fsutil.WriteFileDurable(filepath.Join(dataDir, "idempotency", "keys.log"), keys)
		if err != nil {
			return p, fmt.Errorf("restore: %w", err)
		}
	} else {
		return p, fmt.Errorf("restore: %w", err)
	}
	// Everything restored is in the bucket already.
	failpoint.Hit("ship.Restore.state")
	if err := fsutil.MkdirDurable(filepath.Join(dataDir, "ship")); err != nil {
		return p, fmt.Errorf("restore: %w", err)
	}
	failpoint.Hit("ship.Restore.state.write")
	if err := fsutil.WriteFileDurable(filepath.Join(dataDir, "ship", "tail.state"), []byte(strconv.FormatUint(p.Next-1, 10)+"\n")); err != nil {
		return p, fmt.Errorf("restore: %w", err)
	}
	failpoint.Hit("ship.Restore.syncdir")
	return p, fsutil.SyncDir(walDir)
}

// checkAlive refuses a node whose heartbeat is younger than three of its
// periods (at least 90 s) and does not say it stopped.
func (s *Source) checkAlive(ctx context.Context, node string, force bool) error {
	b, err := s.get(ctx, HeartbeatKey(s.prefix, node))
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		return fmt.Errorf("restore: heartbeat: %w", err)
	}
	var hb Heartbeat
	if err := json.Unmarshal(b, &hb); err != nil {
		return fmt.Errorf("restore: heartbeat object: %w", err)
	}
	every, _ := time.ParseDuration(hb.Every)
	age := time.Since(hb.Time)
	if hb.Stopped || age > max(3*every, 90*time.Second) || force {
		return nil
	}
	return fmt.Errorf("restore: %w: node %s on host %s (pid %d) wrote its heartbeat %s ago; stop it first, or pass --force if that host is gone",
		ErrAlive, node, hb.Host, hb.PID, age.Round(time.Second))
}

// nodeDay is one day's segment objects of a node.
type nodeDay struct {
	day  string
	objs []minio.ObjectInfo
}

// nodeDays lists the node's segment objects, by day.
func (s *Source) nodeDays(ctx context.Context, node string) ([]nodeDay, error) {
	days, err := s.Days(ctx, time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	var out []nodeDay
	for _, d := range days {
		objs, err := s.dayObjects(ctx, d)
		if err != nil {
			return nil, err
		}
		nd := nodeDay{day: d.Start.Format(segment.DayLayout)}
		for _, o := range objs {
			if n, _, ok := segment.ParseName(path.Base(o.Key)); ok && n == node && path.Ext(o.Key) == ".zst" {
				nd.objs = append(nd.objs, o)
			}
		}
		if len(nd.objs) > 0 {
			out = append(out, nd)
		}
	}
	return out, nil
}

// maxSeq returns the highest sequence an object's blocks hold: a compacted
// file's name says it; a part's index does.
func (s *Source) maxSeq(key string) (uint64, error) {
	name := path.Base(key)
	if segment.IsCompacted(name) {
		seq, _ := segment.NameSeq(name)
		return seq, nil
	}
	r, err := s.Open(key)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	idx, err := r.Index()
	if err != nil {
		return 0, fmt.Errorf("restore: index of %s: %w", key, err)
	}
	var m uint64
	for _, e := range idx {
		m = max(m, e.LastSeq)
	}
	return m, nil
}

// download writes a segment object into the data dir's day folder with a
// shipped marker, so it is not uploaded again.
func (s *Source) download(ctx context.Context, o minio.ObjectInfo, dataDir string) (int64, error) {
	dt := path.Base(path.Dir(o.Key))
	dir := filepath.Join(segment.SegmentsDir(dataDir), dt)
	failpoint.Hit("ship.download.mkdir")
	if err := fsutil.MkdirDurable(dir); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	obj, err := s.c.GetObject(ctx, s.bucket, o.Key, minio.GetObjectOptions{})
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer obj.Close()
	f := filepath.Join(dir, path.Base(o.Key))
	failpoint.Hit("ship.download.create")
	out, err := os.OpenFile(f+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	n, err := io.Copy(out, obj)
	if err == nil && n != o.Size {
		err = fmt.Errorf("%s: got %d bytes of %d", o.Key, n, o.Size)
	}
	if err == nil {
		failpoint.Hit("ship.download.sync")
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		failpoint.Hit("ship.download.rename")
		err = fsutil.RenameDurable(f+".tmp", f)
	}
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	failpoint.Hit("ship.download.marker")
	if err := fsutil.WriteFileDurable(f+MarkerSuffix, []byte(o.Key+" "+o.ETag+"\n")); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	return n, nil
}

// get reads a whole object.
func (s *Source) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}
