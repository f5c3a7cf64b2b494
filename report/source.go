package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ingestd/ingestd/segment"
)

// Source is where a report reads days from: a local data directory, or
// every node's files in an object store (cmd/ingestd implements that one).
// A day's Dir is whatever the source understands: a folder, a key prefix.
type Source interface {
	// Days lists the day folders whose day lies in [from, to), oldest first.
	Days(ctx context.Context, from, to time.Time) ([]segment.Day, error)
	// Inputs lists the segment files to read for a day with their sizes, in
	// name order, minus parts that a compacted file there replaces.
	Inputs(ctx context.Context, day segment.Day) ([]Input, error)
	// Partials returns the raw JSON of the day's stored partials by file name.
	Partials(ctx context.Context, day segment.Day) (map[string][]byte, error)
	// Path joins a day and a file name into the name Open takes.
	Path(day segment.Day, name string) string
	// Open opens a file for reading by ranges.
	Open(path string) (*segment.FileReader, error)
	// Prefetch is how many block reads a scan keeps in flight (1: local disk).
	Prefetch() int
}

// LocalSource reads <DataDir>/segments.
type LocalSource struct{ DataDir string }

// Days implements Source.
func (l LocalSource) Days(_ context.Context, from, to time.Time) ([]segment.Day, error) {
	days, err := segment.ListDays(l.DataDir)
	if err != nil {
		return nil, err
	}
	var out []segment.Day
	for _, d := range days {
		if !d.Start.Before(from) && d.Start.Before(to) {
			out = append(out, d)
		}
	}
	return out, nil
}

// Inputs implements Source.
func (LocalSource) Inputs(_ context.Context, day segment.Day) ([]Input, error) {
	_, in, err := dayInputs(day.Dir)
	return in, err
}

// Partials implements Source: every partial beside the day's files.
func (LocalSource) Partials(_ context.Context, day segment.Day) (map[string][]byte, error) {
	names, err := segment.ReportPartials(day.Dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("report: read partial: %w", err)
		}
		out[filepath.Base(p)] = b
	}
	return out, nil
}

// Path implements Source.
func (LocalSource) Path(day segment.Day, name string) string { return filepath.Join(day.Dir, name) }

// Open implements Source.
func (LocalSource) Open(path string) (*segment.FileReader, error) { return segment.OpenFile(path) }

// Prefetch implements Source.
func (LocalSource) Prefetch() int { return 1 }

// cover picks stored partials that together stand for as many of the day's
// files as possible: each usable partial was computed with this config from
// files that are all still there with the same sizes, and no two chosen
// partials share a file. Partials over more files are tried first (a node's
// whole day before a stale fragment). It returns the chosen partials and the
// inputs none of them covers, which must be scanned. Unreadable partials are
// skipped with a warning.
func cover(raw map[string][]byte, fingerprint string, in []Input, warn func(name string, err error)) ([]*Partial, []Input) {
	return coverWith(raw, func(_ string, b []byte) (*Partial, error) { return parsePartial(b) }, fingerprint, in, warn)
}

// coverWith is cover with the partials parsed by parse (a cache's).
func coverWith(raw map[string][]byte, parse func(name string, b []byte) (*Partial, error), fingerprint string, in []Input, warn func(name string, err error)) ([]*Partial, []Input) {
	size := make(map[string]int64, len(in))
	for _, i := range in {
		size[i.Name] = i.Size
	}
	type named struct {
		name string
		p    *Partial
	}
	var cands []named
	for name, b := range raw {
		p, err := parse(name, b)
		if err != nil {
			warn(name, err)
			continue
		}
		if p.Version == formatVersion && p.Config == fingerprint && len(p.Inputs) > 0 {
			cands = append(cands, named{name, p})
		}
	}
	sort.Slice(cands, func(a, b int) bool {
		if na, nb := len(cands[a].p.Inputs), len(cands[b].p.Inputs); na != nb {
			return na > nb
		}
		return cands[a].name < cands[b].name
	})
	covered := map[string]bool{}
	var use []*Partial
next:
	for _, c := range cands {
		for _, f := range c.p.Inputs {
			if s, ok := size[f.Name]; !ok || s != f.Size || covered[f.Name] {
				continue next
			}
		}
		for _, f := range c.p.Inputs {
			covered[f.Name] = true
		}
		use = append(use, c.p)
	}
	var rest []Input
	for _, i := range in {
		if !covered[i.Name] {
			rest = append(rest, i)
		}
	}
	return use, rest
}
