package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"
)

// CompactOptions tunes Compact.
type CompactOptions struct {
	Encoder   *Encoder // stronger level than intake; required
	BlockSize int      // raw bytes per output block; 0 means DefaultCompactBlockSize
	Node      string   // node id in the output's name; "" for none
	// hook, when set (tests), is called between the steps of the swap; an
	// error stops the compaction there, as a crash would.
	hook func(step string) error
}

// DefaultCompactBlockSize is the raw size of a compacted file's blocks.
// 1 MiB keeps 99.7 % of 4 MiB blocks' ratio at the best level (the ratio
// plateaus near 1 MiB); a report's worker holds a quarter of the memory and,
// alone on a core, scans 6-10 % faster: the decoded block stays in cache
// while it is walked.
const DefaultCompactBlockSize = 1 << 20

// compaction steps, in order; the hook sees these names.
const (
	stepWritten = "written" // output fully written and synced as *.tmp
	stepRenamed = "renamed" // output visible; parts still present
	stepRemoved = "removed" // first part removed
)

// Compact rewrites every sealed file of one day folder into a single file
// named <node>-compact-<high-water>.ndjson.zst, re-blocked and recompressed. It is
// crash-safe: the output names the files it replaces in a manifest frame,
// becomes visible by one rename, and only then are the inputs removed;
// RecoverDay finishes an interrupted swap. Open parts are left alone.
// It returns the new file, or "" when there was nothing to do.
func Compact(ctx context.Context, dir string, opt CompactOptions) (string, error) {
	if opt.Encoder == nil {
		return "", errors.New("segment: compact: no encoder")
	}
	bs := opt.BlockSize
	if bs <= 0 {
		bs = DefaultCompactBlockSize
	}
	if bs > MaxBlockRaw {
		bs = MaxBlockRaw
	}
	sealed, _, err := DayFiles(dir)
	if err != nil {
		return "", err
	}
	if len(sealed) == 0 || (len(sealed) == 1 && IsCompacted(sealed[0])) {
		return "", nil
	}
	var hw uint64
	for _, p := range sealed {
		r, err := OpenFile(p)
		if err != nil {
			return "", err
		}
		idx, err := r.Index()
		r.Close()
		if err != nil {
			return "", err
		}
		for _, e := range idx {
			hw = max(hw, e.LastSeq)
		}
	}
	names := make([]string, len(sealed))
	for i, p := range sealed {
		names[i] = filepath.Base(p)
	}
	final := filepath.Join(dir, CompactName(opt.Node, hw))
	for _, n := range names {
		if n == filepath.Base(final) {
			return "", fmt.Errorf("segment: compact %s: output name %s is taken by an input", dir, n)
		}
	}
	// The manifest also names what the compacted inputs replaced, so that
	// a copy of a replaced file left elsewhere (a bucket object whose
	// removal a crash interrupted, then restored beside its successor) is
	// superseded by every later compaction too, not only by the next one.
	seen := map[string]bool{filepath.Base(final): true}
	for _, n := range names {
		seen[n] = true
	}
	for _, p := range sealed {
		if !IsCompacted(p) {
			continue
		}
		replaced, err := ReadManifest(p)
		if err != nil {
			return "", err
		}
		for _, n := range replaced {
			if !seen[n] && !strings.ContainsAny(n, `/\`) {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	tmp := strings.TrimSuffix(final, SuffixSealed) + suffixTmp
	if err := writeCompacted(ctx, tmp, sealed, names, bs, opt.Encoder); err != nil {
		failpoint.Hit("segment.Compact.remove")
		os.Remove(tmp)
		return "", err
	}
	if opt.hook != nil {
		if err := opt.hook(stepWritten); err != nil {
			return "", err
		}
	}
	failpoint.Hit("segment.Compact.renamedurable")
	if err := fsutil.RenameDurable(tmp, final); err != nil {
		return "", err
	}
	if opt.hook != nil {
		if err := opt.hook(stepRenamed); err != nil {
			return "", err
		}
	}
	for i, p := range sealed {
		failpoint.Hit("segment.Compact.remove.2")
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return "", fmt.Errorf("segment: compact: remove %s: %w", p, err)
		}
		if i == 0 && opt.hook != nil {
			if err := opt.hook(stepRemoved); err != nil {
				return "", err
			}
		}
	}
	failpoint.Hit("segment.Compact.syncdir")
	return final, fsutil.SyncDir(dir)
}

// writeCompacted writes the merged blocks of inputs to tmp and syncs it.
func writeCompacted(ctx context.Context, tmp string, inputs, names []string, bs int, enc *Encoder) error {
	failpoint.Hit("segment.writeCompacted.openfile")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("segment: compact: create %s: %w", tmp, err)
	}
	defer f.Close()
	w := &Writer{f: f, path: tmp}
	man := appendManifest(nil, names)
	failpoint.Hit("segment.writeCompacted.write")
	if _, err := f.Write(man); err != nil {
		return fmt.Errorf("segment: compact: write %s: %w", tmp, err)
	}
	w.off = int64(len(man))
	var (
		buf  []byte
		meta BlockMeta
		out  []byte
	)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		var err error
		out, err = enc.AppendBlock(out[:0], meta, buf)
		if err != nil {
			return err
		}
		if err := w.Append(out); err != nil {
			return err
		}
		buf, meta = buf[:0], BlockMeta{}
		return nil
	}
	add := func(m BlockMeta, raw []byte) error {
		if len(buf) > 0 && len(buf)+len(raw) > bs {
			if err := flush(); err != nil {
				return err
			}
		}
		if meta.Records == 0 {
			meta = BlockMeta{MinTS: m.MinTS, MaxTS: m.MaxTS, FirstSeq: m.FirstSeq, LastSeq: m.LastSeq}
		} else {
			meta.MinTS, meta.MaxTS = min(meta.MinTS, m.MinTS), max(meta.MaxTS, m.MaxTS)
			meta.FirstSeq, meta.LastSeq = min(meta.FirstSeq, m.FirstSeq), max(meta.LastSeq, m.LastSeq)
		}
		meta.Records += m.Records
		buf = append(buf, raw...)
		return nil
	}
	err = ScanFiles(ctx, inputs, ScanOptions{}, func(_ string, m BlockMeta, raw []byte) error {
		// An input block larger than bs (intake's blocks are 4 MiB) is cut
		// at line ends; each piece keeps the block's time and sequence
		// ranges, which still bound its records.
		for len(raw) > bs {
			cut := bytes.LastIndexByte(raw[:bs], '\n') + 1
			if cut == 0 { // one line longer than bs: a block of its own
				cut = bytes.IndexByte(raw, '\n') + 1
			}
			if cut == 0 || cut == len(raw) {
				break
			}
			piece := m
			piece.Records = uint32(bytes.Count(raw[:cut], []byte{'\n'}))
			m.Records -= min(piece.Records, m.Records)
			if err := add(piece, raw[:cut]); err != nil {
				return err
			}
			raw = raw[cut:]
		}
		return add(m, raw)
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("segment: compact %s: %w", filepath.Dir(tmp), err)
	}
	idx := appendIndex(nil, w.index)
	failpoint.Hit("segment.writeCompacted.write.2")
	if _, err := f.Write(idx); err != nil {
		return fmt.Errorf("segment: compact: write index %s: %w", tmp, err)
	}
	failpoint.Hit("segment.writeCompacted.sync")
	if err := f.Sync(); err != nil {
		return fmt.Errorf("segment: compact: sync %s: %w", tmp, err)
	}
	return nil
}

// DayRecovery reports what RecoverDay did.
type DayRecovery struct {
	RemovedTmp  []string // unfinished compaction outputs deleted
	RemovedPart []string // parts a visible compacted file already replaces, deleted
}

// RecoverDay finishes or undoes an interrupted compaction in one day folder:
// an output not yet renamed (*.tmp) is deleted, so the parts stay; parts
// named by a visible compacted file's manifest are deleted, so the compacted
// file stays. Afterwards every record is in exactly one visible file.
func RecoverDay(dir string) (DayRecovery, error) {
	var rep DayRecovery
	ents, err := os.ReadDir(dir)
	if err != nil {
		return rep, fmt.Errorf("segment: recover %s: %w", dir, err)
	}
	changed := false
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffixTmp) {
			p := filepath.Join(dir, e.Name())
			failpoint.Hit("segment.RecoverDay.remove")
			if err := os.Remove(p); err != nil {
				return rep, fmt.Errorf("segment: recover: remove %s: %w", p, err)
			}
			rep.RemovedTmp = append(rep.RemovedTmp, p)
			changed = true
		}
	}
	sealed, _, err := DayFiles(dir)
	if err != nil {
		return rep, err
	}
	present := map[string]bool{}
	for _, p := range sealed {
		present[filepath.Base(p)] = true
	}
	for _, p := range sealed {
		if !IsCompacted(p) || !present[filepath.Base(p)] {
			continue
		}
		names, err := ReadManifest(p)
		if err != nil {
			return rep, err
		}
		for _, n := range names {
			if n == filepath.Base(p) || !present[n] || strings.ContainsAny(n, `/\`) {
				continue
			}
			q := filepath.Join(dir, n)
			failpoint.Hit("segment.RecoverDay.remove.2")
			if err := os.Remove(q); err != nil {
				return rep, fmt.Errorf("segment: recover: remove %s: %w", q, err)
			}
			present[n] = false
			rep.RemovedPart = append(rep.RemovedPart, q)
			changed = true
		}
	}
	if changed {
		failpoint.Hit("segment.RecoverDay.syncdir")
		return rep, fsutil.SyncDir(dir)
	}
	return rep, nil
}
