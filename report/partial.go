package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ingestd/ingestd/internal/failpoint"
	"github.com/ingestd/ingestd/internal/fsutil"

	"github.com/ingestd/ingestd/segment"
)

// Partial is one day's aggregate with what it was computed from.
type Partial struct {
	Version  int       `json:"version"`
	Config   string    `json:"config"` // Config.Fingerprint()
	Inputs   []Input   `json:"inputs"` // the day's files when it was computed
	Computed time.Time `json:"computed"`
	Agg      *Agg      `json:"aggregate"`
}

// Input names one segment file and its size.
type Input struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// dayInputs lists the files to read for a day and their sizes.
func dayInputs(dir string) ([]string, []Input, error) {
	files, err := segment.DayInputs(dir)
	if err != nil {
		return nil, nil, err
	}
	in := make([]Input, len(files))
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, nil, fmt.Errorf("report: %w", err)
		}
		in[i] = Input{Name: filepath.Base(f), Size: st.Size()}
	}
	return files, in, nil
}

// LoadPartial reads a node's partial of a day folder; it returns nil and no
// error when there is none.
func LoadPartial(dir, node string) (*Partial, error) {
	name := filepath.Join(dir, segment.ReportPartialName(node))
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: read partial: %w", err)
	}
	p, err := parsePartial(b)
	if err != nil {
		return nil, fmt.Errorf("report: partial %s: %w", name, err)
	}
	return p, nil
}

// parsePartial decodes a stored partial.
func parsePartial(b []byte) (*Partial, error) {
	var p Partial
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if p.Agg == nil {
		return nil, errors.New("no aggregate")
	}
	return &p, nil
}

// fresh reports whether p was computed with cfg from exactly these files.
func (p *Partial) fresh(fingerprint string, in []Input) bool {
	return p != nil && p.Version == formatVersion && p.Config == fingerprint && slices.Equal(p.Inputs, in)
}

// writePartial stores p in dir atomically (temporary file, fsync, rename).
func writePartial(dir, node string, p *Partial) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("report: encode partial: %w", err)
	}
	failpoint.Hit("report.writePartial.writefiledurable")
	return fsutil.WriteFileDurable(filepath.Join(dir, segment.ReportPartialName(node)), b)
}

// DayResult says where a day's aggregate came from.
type DayResult struct {
	Partial *Partial
	Scanned bool // computed now (missing, stale, or asked to)
	Stored  bool // written beside the day
}

// DayPartial returns the aggregate of one local day folder: node's stored
// partial when it is fresh, else a scan of the day's files. With store set,
// a scanned partial of a day without open parts is written beside it as
// node's. A file that disappears during the scan (a compaction swapped the
// day's files) makes the day be read again.
func DayPartial(ctx context.Context, dir, node string, cfg Config, store, force bool, opt ScanOptions) (DayResult, error) {
	fp := cfg.Fingerprint()
	for attempt := 0; ; attempt++ {
		files, in, err := dayInputs(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
				continue
			}
			return DayResult{}, err
		}
		if !force && opt.Sink == nil {
			p, err := LoadPartial(dir, node)
			if err == nil && p.fresh(fp, in) {
				return DayResult{Partial: p}, nil
			}
		}
		agg, err := Scan(ctx, files, cfg, opt)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 && opt.Sink == nil {
			continue
		}
		if err != nil {
			return DayResult{}, fmt.Errorf("report: scan %s: %w", dir, err)
		}
		p := &Partial{Version: formatVersion, Config: fp, Inputs: in, Computed: time.Now().UTC(), Agg: agg}
		res := DayResult{Partial: p, Scanned: true}
		open := slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, segment.SuffixOpen) })
		if store && !open {
			// Store only if the files did not change meanwhile.
			if _, now, err := dayInputs(dir); err == nil && slices.Equal(now, in) {
				if err := writePartial(dir, node, p); err != nil {
					return res, err
				}
				res.Stored = true
			}
		}
		return res, nil
	}
}
