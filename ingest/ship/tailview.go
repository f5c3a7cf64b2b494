package ship

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/internal/utcday"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/segment"
)

// The tail view: a read over the bucket also counts the records that are in
// WAL objects and not yet in any segment object, so that today's records
// are readable from the bucket within storage.tail_interval. For every node
// with WAL objects, each entry's share of a day is taken when its sequence
// is above the day's high-water in that node's segment objects (the rule of
// local recovery), and each day's shares become one in-memory open part,
// "<node>-tail-<first seq>.ndjson.zst.open", listed among the day's inputs.

// tailSuffix marks the names of tail parts among a day's inputs: no object
// has it (only sealed files ship).
const tailSuffix = segment.SuffixOpen

// tailFile is one node's records of one day that only WAL objects hold.
type tailFile struct {
	name string
	data []byte // an open segment part: blocks, no index
}

// tailView builds the tail parts once per Source.
func (s *Source) tailView(ctx context.Context) (map[string][]tailFile, error) {
	s.tailOnce.Do(func() { s.tails, s.tailErr = s.buildTails(ctx) })
	return s.tails, s.tailErr
}

func (s *Source) buildTails(ctx context.Context) (map[string][]tailFile, error) {
	nodes, err := s.list(ctx, s.key("wal/"), false)
	if err != nil {
		return nil, err
	}
	enc, err := segment.NewEncoder(segment.LevelFastest)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	out := map[string][]tailFile{}
	for _, n := range nodes {
		node := path.Base(strings.TrimSuffix(n.Key, "/"))
		if !strings.HasSuffix(n.Key, "/") || segment.CheckNode(node) != nil {
			continue
		}
		if err := s.nodeTails(ctx, node, enc, out); err != nil {
			return nil, fmt.Errorf("source: WAL objects of node %s: %w", node, err)
		}
	}
	return out, nil
}

// share is one entry's part of one day.
type share struct {
	seq  uint64
	part record.Part
}

// nodeTails adds a node's tail parts to out, by day folder.
func (s *Source) nodeTails(ctx context.Context, node string, enc *segment.Encoder, out map[string][]tailFile) error {
	objs, err := ListWAL(ctx, s.c, s.bucket, s.prefix, node, nil)
	if err != nil {
		return err
	}
	byDay := map[int64][]share{}
	var last uint64
	var sc struct {
		buf   []byte
		recs  []record.Rec
		batch record.Batch
		entry record.EntryScratch
		parts []record.Part
	}
	for _, o := range objs {
		if last != 0 && o.First > last+1 {
			break // after a gap: never acknowledged under ack bucket
		}
		if o.Last <= last {
			continue
		}
		b, err := s.get(ctx, o.Key)
		if err != nil {
			return err
		}
		_, _, _, entries, err := ParseWALObject(b)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		err = wal.Entries(entries, func(seq uint64, e []byte) error {
			if seq <= last {
				return nil
			}
			last = seq
			p, err := wal.EntryPayload(e, nil)
			if err != nil {
				return err
			}
			if record.FormatOf(p) != record.EntryFramed {
				// A WAL written before format 2: regroup it, as the store does.
				buf, recs, err := record.DecodeEntry(p, sc.recs[:0])
				if err != nil || len(recs) == 0 {
					return fmt.Errorf("entry %d: %v", seq, err)
				}
				sc.batch.Buf, sc.batch.Recs = buf, recs
				p, _, _ = record.AppendFramedEntry(nil, &sc.batch, nil, record.Framing{}, &sc.entry)
			}
			parts, err := record.DecodeParts(p, sc.parts[:0])
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			for _, pt := range parts {
				byDay[pt.Day] = append(byDay[pt.Day], share{seq, pt})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
	}
	for day, shares := range byDay {
		dir := s.key("dt=" + utcday.Name(day))
		hw, err := s.highWater(ctx, dir, node)
		if err != nil {
			return err
		}
		var data []byte
		first := uint64(0)
		for _, sh := range shares {
			if sh.seq <= hw {
				continue
			}
			if first == 0 {
				first = sh.seq
			}
			m := segment.BlockMeta{Records: sh.part.Records, MinTS: sh.part.MinTS, MaxTS: sh.part.MaxTS, FirstSeq: sh.seq, LastSeq: sh.seq}
			if sh.part.Packed {
				var start int
				data, start = segment.StartBlock(data)
				data = append(data, sh.part.Data...)
				m.RawLen = sh.part.RawLen
				data, err = segment.EndBlock(data, start, m, false)
			} else {
				data, err = enc.AppendBlock(data, m, sh.part.Data)
			}
			if err != nil {
				return fmt.Errorf("entry %d: %w", sh.seq, err)
			}
		}
		if first != 0 {
			out[dir] = append(out[dir], tailFile{name: fmt.Sprintf("%s-tail-%016x%s", node, first, tailSuffix), data: data})
		}
	}
	return nil
}

// highWater returns the highest sequence of node's segment objects in a day
// folder (0: none).
func (s *Source) highWater(ctx context.Context, dir, node string) (uint64, error) {
	objs, err := s.dayObjects(ctx, segment.Day{Dir: dir})
	if err != nil {
		return 0, err
	}
	var hw uint64
	for _, o := range objs {
		name := path.Base(o.Key)
		if n, _, ok := segment.ParseName(name); !ok || n != node || !strings.HasSuffix(name, segment.SuffixSealed) {
			continue
		}
		m, err := s.maxSeq(o.Key)
		if err != nil {
			return 0, err
		}
		hw = max(hw, m)
	}
	return hw, nil
}

// tailDays returns the day folders in [from, to) that only tail parts hold.
func (s *Source) tailDays(ctx context.Context, from, to time.Time, have []segment.Day) ([]segment.Day, error) {
	tails, err := s.tailView(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range have {
		seen[d.Dir] = true
	}
	for dir := range tails {
		t, err := time.Parse(segment.DayLayout, strings.TrimPrefix(path.Base(dir), "dt="))
		if err != nil || seen[dir] || t.Before(from) || !t.Before(to) {
			continue
		}
		have = append(have, segment.Day{Dir: dir, Start: t})
	}
	sort.Slice(have, func(i, j int) bool { return have[i].Start.Before(have[j].Start) })
	return have, nil
}

// tailFileOf returns the tail part a key names, if it is one.
func (s *Source) tailFileOf(key string) (tailFile, bool) {
	if !strings.HasSuffix(key, tailSuffix) || s.tails == nil {
		return tailFile{}, false
	}
	for _, f := range s.tails[path.Dir(key)] {
		if f.name == path.Base(key) {
			return f, true
		}
	}
	return tailFile{}, false
}

// openTail reads a tail part from memory.
func openTail(key string, f tailFile) *segment.FileReader {
	return segment.NewReader(key, bytes.NewReader(f.data), int64(len(f.data)), nil)
}

// VerifyWAL checks every node's WAL objects: the header's checksum and
// range against the key, and every entry's checksum and sequence. It
// returns how many objects and entries it read and the problems found.
func (s *Source) VerifyWAL(ctx context.Context) (objects int, entries int64, problems []segment.Problem, err error) {
	nodes, err := s.list(ctx, s.key("wal/"), false)
	if err != nil {
		return 0, 0, nil, err
	}
	for _, n := range nodes {
		node := path.Base(strings.TrimSuffix(n.Key, "/"))
		if !strings.HasSuffix(n.Key, "/") || segment.CheckNode(node) != nil {
			continue
		}
		objs, err := ListWAL(ctx, s.c, s.bucket, s.prefix, node, nil)
		if err != nil {
			return objects, entries, problems, err
		}
		for _, o := range objs {
			b, err := s.get(ctx, o.Key)
			if err != nil {
				return objects, entries, problems, err
			}
			objects++
			bad := func(err error) {
				problems = append(problems, segment.Problem{Path: s.url(o.Key), Offset: -1, Err: err})
			}
			first, last, _, es, err := ParseWALObject(b)
			if err != nil {
				bad(err)
				continue
			}
			if first != o.First || last != o.Last {
				bad(fmt.Errorf("holds entries %d-%d, its name says %d-%d", first, last, o.First, o.Last))
				continue
			}
			want := first
			if err := wal.Entries(es, func(seq uint64, _ []byte) error {
				if seq != want {
					return fmt.Errorf("entry %d where %d belongs", seq, want)
				}
				want++
				entries++
				return nil
			}); err != nil {
				bad(err)
			} else if want != last+1 {
				bad(fmt.Errorf("ends at entry %d, its name says %d", want-1, last))
			}
		}
	}
	return objects, entries, problems, nil
}
