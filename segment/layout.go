package segment

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DayLayout is the date layout of day folder names (after "dt=").
const DayLayout = "2006-01-02"

// SegmentsDir returns <dataDir>/segments.
func SegmentsDir(dataDir string) string { return filepath.Join(dataDir, "segments") }

// DayDir returns the folder of the UTC day that contains t.
func DayDir(dataDir string, t time.Time) string {
	return filepath.Join(SegmentsDir(dataDir), "dt="+t.UTC().Format(DayLayout))
}

// Day is one day folder.
type Day struct {
	Dir   string    // the folder
	Start time.Time // midnight UTC
}

// ListDays returns the day folders under <dataDir>/segments, oldest first.
// Entries whose names are not dt=YYYY-MM-DD are ignored.
func ListDays(dataDir string) ([]Day, error) {
	ents, err := os.ReadDir(SegmentsDir(dataDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("segment: list days: %w", err)
	}
	var out []Day
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "dt=") {
			continue
		}
		t, err := time.Parse(DayLayout, strings.TrimPrefix(e.Name(), "dt="))
		if err != nil {
			continue
		}
		out = append(out, Day{Dir: filepath.Join(SegmentsDir(dataDir), e.Name()), Start: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// DayFiles lists a day folder: sealed files and open parts, each sorted by
// name (part names sort in WAL order).
func DayFiles(dir string) (sealed, open []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("segment: list %s: %w", dir, err)
	}
	for _, e := range ents {
		n := e.Name()
		switch {
		case e.IsDir():
		case strings.HasSuffix(n, SuffixSealed):
			sealed = append(sealed, filepath.Join(dir, n))
		case strings.HasSuffix(n, SuffixOpen):
			open = append(open, filepath.Join(dir, n))
		}
	}
	sort.Strings(sealed)
	sort.Strings(open)
	return sealed, open, nil
}

// PartName returns the open-part file name, <node>-part-<seq>.ndjson.zst.open,
// of a part whose first block holds WAL sequence seq. An empty node gives the
// name without a node (part-<seq>…), as written before node ids existed.
func PartName(node string, seq uint64) string {
	return nodePrefix(node) + fmt.Sprintf("part-%016x%s", seq, SuffixOpen)
}

// CompactName returns the name of a day's compacted file,
// <node>-compact-<high-water>.ndjson.zst.
func CompactName(node string, hw uint64) string {
	return nodePrefix(node) + fmt.Sprintf("compact-%016x%s", hw, SuffixSealed)
}

func nodePrefix(node string) string {
	if node == "" {
		return ""
	}
	return node + "-"
}

// Kinds of segment file, as ParseName returns them.
const (
	KindPart    = "part"
	KindCompact = "compact"
)

// ParseName splits a segment file name, [<node>-]<kind>-<16 hex>.ndjson.zst
// (or .open), into its node ("" for names without one) and kind. It reads
// from the right, so node ids may themselves contain dashes.
func ParseName(name string) (node, kind string, ok bool) {
	base, found := strings.CutSuffix(name, SuffixOpen)
	if !found {
		if base, found = strings.CutSuffix(name, SuffixSealed); !found {
			return "", "", false
		}
	}
	if len(base) < 17 {
		return "", "", false
	}
	for _, c := range base[len(base)-16:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", false
		}
	}
	rest := base[:len(base)-16]
	for _, k := range []string{KindPart, KindCompact} {
		if rest == k+"-" {
			return "", k, true
		}
		if n, found := strings.CutSuffix(rest, "-"+k+"-"); found && n != "" {
			return n, k, true
		}
	}
	return "", "", false
}

// NameSeq returns the sequence in a segment file's name: a part's first,
// a compacted file's high-water.
func NameSeq(name string) (uint64, bool) {
	if _, _, ok := ParseName(name); !ok {
		return 0, false
	}
	base := strings.TrimSuffix(strings.TrimSuffix(name, SuffixOpen), SuffixSealed)
	seq, err := strconv.ParseUint(base[len(base)-16:], 16, 64)
	return seq, err == nil
}

// IsCompacted reports whether a file name (or path) is a compacted day's.
func IsCompacted(name string) bool {
	_, kind, ok := ParseName(filepath.Base(name))
	return ok && kind == KindCompact
}

// LegacyReportPartial is the name of a day's report partial written before
// node ids; it is still read.
const LegacyReportPartial = "report.partial.json"

const reportPartialSuffix = ".partial.json"

// ReportPartialName returns the name of a node's report partial of a day,
// <node>.partial.json, beside the day's segment files: the day's aggregate
// with the names and sizes of the files it was computed from, so the
// partials of many nodes can share a folder or bucket prefix. Segment
// readers ignore it (it is not *.ndjson.zst). An empty node gives
// LegacyReportPartial.
func ReportPartialName(node string) string {
	if node == "" {
		return LegacyReportPartial
	}
	return node + reportPartialSuffix
}

// IsReportPartial reports whether a file name is a report partial's (a
// node's or the legacy one; not a hidden or temporary file).
func IsReportPartial(name string) bool {
	return strings.HasSuffix(name, reportPartialSuffix) && !strings.HasPrefix(name, ".")
}

// ReportPartials lists the report partials in a day folder.
func ReportPartials(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("segment: list %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && IsReportPartial(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// CheckNode checks a node id: 1 to 64 letters, digits, '.', '_' or '-',
// starting with a letter or digit, so it is safe in file names and object
// keys.
func CheckNode(node string) error {
	if len(node) == 0 || len(node) > 64 {
		return fmt.Errorf("segment: node id %q: want 1 to 64 characters", node)
	}
	for i, c := range node {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !ok && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return fmt.Errorf("segment: node id %q: only letters, digits, '.', '_' and '-', starting with a letter or digit", node)
		}
	}
	return nil
}

// DayInputs lists the files a reader should read for one day folder: sealed
// files and open parts, in name order, minus parts that a visible compacted
// file already replaces (a compaction interrupted between its rename and its
// removals, before RecoverDay ran). Every record is then read exactly once.
func DayInputs(dir string) ([]string, error) {
	sealed, open, err := DayFiles(dir)
	if err != nil {
		return nil, err
	}
	return DropReplaced(append(sealed, open...), OpenFile)
}

// DropReplaced returns paths (one day's files, local or object keys, any
// order) minus those a compacted file among them names in its manifest. It
// reads the manifests through open.
func DropReplaced(paths []string, open func(string) (*FileReader, error)) ([]string, error) {
	replaced := map[string]bool{}
	for _, p := range paths {
		if !IsCompacted(p) {
			continue
		}
		r, err := open(p)
		if err != nil {
			return nil, err
		}
		names, err := r.Manifest()
		r.Close()
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if n != path.Base(p) {
				replaced[n] = true
			}
		}
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if !replaced[path.Base(p)] {
			out = append(out, p)
		}
	}
	return out, nil
}

// ReadManifest returns the names of the parts the compacted file p replaces.
func ReadManifest(p string) ([]string, error) {
	r, err := OpenFile(p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Manifest()
}

// Forever is a time after every day: the end of a range that means all days.
var Forever = time.Unix(1<<40, 0)
