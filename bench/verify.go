package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ingestd/ingestd/segment"
)

// VerifyResult is what Verify found. OK is true when every acknowledged
// record is stored exactly once, nothing refused or invalid is stored, and
// every unanswered request is stored whole or not at all.
type VerifyResult struct {
	OK              bool     `json:"ok"`
	Requests        int64    `json:"requests"`
	Acked           int64    `json:"acked_requests"`
	Unanswered      int64    `json:"unanswered_requests"`
	UnansweredKept  int64    `json:"unanswered_stored_whole"`
	Refused         int64    `json:"refused_requests"`
	RecordsExpected int64    `json:"records_expected"`
	RecordsStored   int64    `json:"records_stored"`
	Lost            int64    `json:"lost"`
	Duplicated      int64    `json:"duplicated"`
	Unexpected      int64    `json:"unexpected"` // stored but refused, invalid, never sent or unknown
	Partial         int64    `json:"partial_requests"`
	Problems        []string `json:"problems,omitempty"` // the first few, for a human
}

const maxProblems = 20

func (v *VerifyResult) problem(format string, args ...any) {
	if len(v.Problems) < maxProblems {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
}

type ackEntry struct {
	status   string
	accepted int64
}

// ReadAckLog parses an ack log written by Run.
func ReadAckLog(r io.Reader) (Workload, map[int64]ackEntry, error) {
	var w Workload
	acks := map[int64]ackEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "# ingest-bench ack log v1 ") {
		return w, nil, fmt.Errorf("bench: not an ingest-bench ack log")
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "# ingest-bench ack log v1 ")), &w); err != nil {
		return w, nil, fmt.Errorf("bench: ack log header: %w", err)
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return w, nil, fmt.Errorf("bench: ack log line %q", sc.Text())
		}
		i, err1 := strconv.ParseInt(f[0], 10, 64)
		n, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return w, nil, fmt.Errorf("bench: ack log line %q", sc.Text())
		}
		acks[i] = ackEntry{status: f[1], accepted: n}
	}
	return w, acks, sc.Err()
}

// Verify reads every segment file under dataDir (sealed and open parts) and
// checks it against the ack log. Run it after the daemon has stopped.
func Verify(ctx context.Context, dataDir string, ackLog io.Reader) (*VerifyResult, error) {
	w, acks, err := ReadAckLog(ackLog)
	if err != nil {
		return nil, err
	}
	gen, err := NewGenerator(w, time.Now())
	if err != nil {
		return nil, err
	}
	var maxIdx int64 = -1
	for i := range acks {
		maxIdx = max(maxIdx, i)
	}
	nIDs := (maxIdx + 1) * int64(w.Batch)
	counts := make([]uint8, nIDs) // per record id: times stored (saturating)
	v := &VerifyResult{}
	days, err := segment.ListDays(dataDir)
	if err != nil {
		return nil, err
	}
	// A record starts with its id; OTLP's stored records have it first
	// among their attributes.
	prefix, otlpKey := []byte(`{"id":"`), []byte(`"attributes":{"id":"`)
	for _, d := range days {
		sealed, open, err := segment.DayFiles(d.Dir)
		if err != nil {
			return nil, err
		}
		err = segment.ScanFiles(ctx, append(sealed, open...), segment.ScanOptions{}, func(file string, _ segment.BlockMeta, raw []byte) error {
			for len(raw) > 0 {
				i := bytes.IndexByte(raw, '\n')
				line := raw[:i]
				raw = raw[i+1:]
				v.RecordsStored++
				at := -1 // where the id's digits start
				if w.OTLP() {
					if k := bytes.Index(line, otlpKey); k >= 0 {
						at = k + len(otlpKey)
					}
				} else if w.Fluent() {
					if k := bytes.Index(line, fluentKey); k >= 0 {
						at = k + len(fluentKey)
					}
				} else if bytes.HasPrefix(line, prefix) {
					at = len(prefix)
				}
				if at < 0 || len(line) < at+idWidth+1 || line[at+idWidth] != '"' {
					v.Unexpected++
					v.problem("%s: a record not written by ingest-bench: %.60s", file, line)
					continue
				}
				id, err := strconv.ParseInt(string(line[at:at+idWidth]), 10, 64)
				if err != nil || id >= nIDs {
					v.Unexpected++
					v.problem("%s: record id %s was never sent", file, line[at:at+idWidth])
					continue
				}
				if counts[id] < 255 {
					counts[id]++
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for i := int64(0); i <= maxIdx; i++ {
		a, sent := acks[i]
		inv := gen.invalid[int(i%nTemplates)]
		first := i * int64(w.Batch)
		var present, valid int64
		for j := int64(0); j < int64(w.Batch); j++ {
			c := counts[first+j]
			if c > 1 {
				v.Duplicated += int64(c) - 1
				v.problem("record %d stored %d times", first+j, c)
			}
			if inv[j] {
				if c > 0 {
					v.Unexpected++
					v.problem("invalid record %d was stored", first+j)
				}
				continue
			}
			valid++
			if c > 0 {
				present++
			}
		}
		if !sent {
			if present > 0 {
				v.Unexpected += present
				v.problem("request %d was never sent, yet %d of its records are stored", i, present)
			}
			continue
		}
		v.Requests++
		switch {
		case a.status == "200":
			v.Acked++
			v.RecordsExpected += valid
			if a.accepted != valid {
				v.problem("request %d: daemon accepted %d, %d were valid", i, a.accepted, valid)
				v.Lost += max(0, valid-a.accepted)
			}
			if present < valid {
				v.Lost += valid - present
				v.problem("request %d: %d of %d acknowledged records lost", i, valid-present, valid)
			}
		case a.status == "error":
			v.Unanswered++
			if present == valid {
				v.UnansweredKept++
			} else if present > 0 {
				v.Partial++
				v.problem("unanswered request %d stored partly: %d of %d", i, present, valid)
			}
		default:
			v.Refused++
			if present > 0 {
				v.Unexpected += present
				v.problem("request %d was answered %s, yet %d of its records are stored", i, a.status, present)
			}
		}
	}
	v.OK = v.Lost == 0 && v.Duplicated == 0 && v.Unexpected == 0 && v.Partial == 0 && len(v.Problems) == 0
	return v, nil
}
