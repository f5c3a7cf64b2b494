package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RecordCheck validates one stored line (without its newline) and returns
// its timestamp in Unix nanoseconds. The daemon supplies it: the segment
// package does not know the record rules.
type RecordCheck func(line []byte) (ts int64, err error)

// Problem is one thing Verify found wrong.
type Problem struct {
	Path   string
	Offset int64 // of the block or frame, -1 when about the whole file
	Line   int   // 1-based line within the block, 0 when not about a line
	Err    error
}

func (p Problem) String() string {
	s := p.Path
	if p.Offset >= 0 {
		s += fmt.Sprintf(" offset %d", p.Offset)
	}
	if p.Line > 0 {
		s += fmt.Sprintf(" line %d", p.Line)
	}
	return s + ": " + p.Err.Error()
}

// VerifyReport sums up a verification.
type VerifyReport struct {
	Files    int
	Blocks   int
	Records  int64
	Problems []Problem
}

// VerifyDir checks every segment file under <dataDir>/segments. check may be
// nil (then lines are only checked to be JSON objects by shape).
func VerifyDir(dataDir string, check RecordCheck) (VerifyReport, error) {
	var rep VerifyReport
	days, err := ListDays(dataDir)
	if err != nil {
		return rep, err
	}
	for _, d := range days {
		sealed, open, err := DayFiles(d.Dir)
		if err != nil {
			return rep, err
		}
		ents, _ := os.ReadDir(d.Dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), suffixTmp) {
				rep.Problems = append(rep.Problems, Problem{Path: filepath.Join(d.Dir, e.Name()), Offset: -1,
					Err: errors.New("unfinished compaction output (removed on next start)")})
			}
		}
		for _, f := range append(sealed, open...) {
			verifyFile(&rep, f, d.Start, check)
		}
	}
	return rep, nil
}

// VerifyFile checks one file whose records must lie in the UTC day starting
// at day; it adds what it finds to rep.
func VerifyFile(rep *VerifyReport, path string, day time.Time, check RecordCheck) {
	verifyFile(rep, path, day, check)
}

func verifyFile(rep *VerifyReport, path string, day time.Time, check RecordCheck) {
	r, err := OpenFile(path)
	if err != nil {
		rep.Files++
		rep.Problems = append(rep.Problems, Problem{Path: path, Offset: -1, Err: err})
		return
	}
	defer r.Close()
	VerifyReader(rep, path, r.f, r.size, day, check)
}

// VerifyReader is VerifyFile for a file of size bytes read through ra (an
// object in a store); path names it and, by its suffix, says whether it is
// sealed. It reads the file front to back once.
func VerifyReader(rep *VerifyReport, path string, ra io.ReaderAt, size int64, day time.Time, check RecordCheck) {
	rep.Files++
	add := func(off int64, line int, err error) {
		rep.Problems = append(rep.Problems, Problem{Path: path, Offset: off, Line: line, Err: err})
	}
	sealed := strings.HasSuffix(path, SuffixSealed)
	dec, err := NewDecoder()
	if err != nil {
		add(-1, 0, err)
		return
	}
	defer dec.Close()
	lo, hi := day.UnixNano(), day.Add(24*time.Hour).UnixNano()
	var raw []byte
	var blocks []IndexEntry
	var index []IndexEntry
	wk := newWalker(ra, size, path)
	torn, werr := wk.walk(func(fr *Frame) error {
		switch fr.Kind {
		case kindIndex:
			index, _ = parseIndex(fr.Data)
			return nil
		case kindManifest:
			return nil
		}
		m := fr.Meta
		blocks = append(blocks, IndexEntry{Offset: fr.Offset, BlockMeta: m})
		rep.Blocks++
		if m.MinTS < lo || m.MaxTS >= hi {
			add(fr.Offset, 0, fmt.Errorf("block time range %s..%s outside the folder's day",
				time.Unix(0, m.MinTS).UTC().Format(time.RFC3339Nano), time.Unix(0, m.MaxTS).UTC().Format(time.RFC3339Nano)))
		}
		var err error
		raw, err = dec.Decode(raw, fr.Data, m)
		if err != nil {
			add(fr.Offset, 0, err)
			return nil
		}
		if n := lines(raw); n != int(m.Records) || (len(raw) > 0 && raw[len(raw)-1] != '\n') {
			add(fr.Offset, 0, fmt.Errorf("block has %d lines, header says %d records", n, m.Records))
		}
		rest := raw
		for ln := 1; len(rest) > 0; ln++ {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				i = len(rest)
			}
			line := rest[:i]
			rest = rest[min(i+1, len(rest)):]
			rep.Records++
			if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
				add(fr.Offset, ln, errors.New("line is not a JSON object"))
				continue
			}
			if check == nil {
				continue
			}
			ts, err := check(line)
			if err != nil {
				add(fr.Offset, ln, err)
				continue
			}
			if ts < lo || ts >= hi {
				add(fr.Offset, ln, fmt.Errorf("timestamp %s outside the folder's day", time.Unix(0, ts).UTC().Format(time.RFC3339Nano)))
			} else if ts < m.MinTS || ts > m.MaxTS {
				add(fr.Offset, ln, errors.New("timestamp outside the block header's range"))
			}
		}
		return nil
	})
	if werr != nil {
		var ce *CorruptionError
		if errors.As(werr, &ce) {
			add(ce.Offset, 0, ce.Err)
		} else {
			add(-1, 0, werr)
		}
		return
	}
	if torn != nil {
		if sealed {
			add(torn.Offset, 0, fmt.Errorf("sealed file has a torn tail (%s)", torn.Reason))
		} else {
			add(torn.Offset, 0, fmt.Errorf("open part has a torn tail (%s); the next start truncates it", torn.Reason))
		}
	}
	if sealed {
		switch {
		case index == nil:
			add(-1, 0, errors.New("sealed file has no index frame"))
		case len(index) != len(blocks):
			add(-1, 0, fmt.Errorf("index lists %d blocks, file has %d", len(index), len(blocks)))
		default:
			for i := range index {
				if index[i] != blocks[i] {
					add(blocks[i].Offset, 0, errors.New("index entry does not match block header"))
				}
			}
		}
	}
}
