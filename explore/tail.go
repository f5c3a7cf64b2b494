package explore

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/ingestd/ingestd/internal/jsonx"
	"github.com/ingestd/ingestd/report/filter"
)

// Subscriber is what the tail needs of the intake core (ingest.Feed): the
// records of each write once durable, NDJSON, and how many batches it
// dropped because the reader fell behind.
type Subscriber interface {
	Subscribe(buf int) (batches <-chan []byte, dropped func() int64, cancel func())
}

// keepAlive is how often an idle server-sent-events tail writes a comment,
// so that a proxy keeps it open and a client that went away is noticed.
const keepAlive = 10 * time.Second

// tail is GET /api/v1/tail: the records matching where as they become
// durable, as server-sent events (format=sse, the default: one "data:"
// event per record) or NDJSON (format=ndjson).
func (e *Engine) tail(arg func(string) string) (*Answer, error) {
	if e.Tail == nil {
		return nil, &Error{Status: 404, Msg: "this daemon does not tail", Pos: -1}
	}
	w, perr := where(arg)
	if perr != nil {
		return nil, perr
	}
	var expr filter.Expr
	if w != "" {
		expr, _ = filter.Parse(w) // checked by where
	}
	format := arg("format")
	if format == "" {
		format = "sse"
	}
	if format != "sse" && format != "ndjson" {
		return nil, bad("format", "format %q: want sse or ndjson", format)
	}
	ct := "text/event-stream"
	if format == "ndjson" {
		ct = "application/x-ndjson"
	}
	a := &Answer{ContentType: ct, Header: map[string]string{"X-Accel-Buffering": "no"}}
	a.Write = func(ctx context.Context, bw *bufio.Writer) error {
		batches, dropped, cancel := e.Tail.Subscribe(256)
		defer cancel()
		if format == "sse" {
			bw.WriteString(": tailing\n\n") // the headers and a first byte, at once
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		tick := time.NewTicker(keepAlive)
		defer tick.Stop()
		var lost int64
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				if format == "sse" {
					bw.WriteString(": keep-alive\n\n")
				}
			case b := <-batches:
				for len(b) > 0 {
					var rec []byte
					if i := bytes.IndexByte(b, '\n'); i >= 0 {
						rec, b = b[:i], b[i+1:]
					} else {
						rec, b = b, nil
					}
					if expr != nil && !Match(expr, rec) {
						continue
					}
					if format == "sse" {
						bw.WriteString("data: ")
						bw.Write(rec)
						bw.WriteString("\n\n")
					} else {
						bw.Write(rec)
						bw.WriteByte('\n')
					}
				}
			}
			if d := dropped(); d != lost && format == "sse" {
				bw.WriteString("event: dropped\ndata: " + strconv.FormatInt(d-lost, 10) + "\n\n")
				lost = d
			}
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
	return a, nil
}

// Match decides a filter for one stored record, as a scan decides it for
// the record's row: a leaf is false when its field is missing.
func Match(e filter.Expr, rec []byte) bool {
	switch e := e.(type) {
	case filter.And:
		return Match(e.L, rec) && Match(e.R, rec)
	case filter.Or:
		return Match(e.L, rec) || Match(e.R, rec)
	case filter.Not:
		return !Match(e.X, rec)
	case filter.Cmp:
		return leaf(e, e.Path, rec)
	case filter.In:
		return leaf(e, e.Path, rec)
	case filter.Match:
		return leaf(e, e.Path, rec)
	case filter.Exists:
		return leaf(e, e.Path, rec)
	}
	return false
}

func leaf(e filter.Expr, p filter.Path, rec []byte) bool {
	v, ok := lookup(rec, p)
	return ok && filter.Leaf(e, v)
}

// lookup finds the JSON value at path in a stored (compact) record.
func lookup(b []byte, path filter.Path) ([]byte, bool) {
	i := 0
	for depth, name := range path {
		if i >= len(b) || b[i] != '{' {
			return nil, false
		}
		i++
		found := false
		for i < len(b) && b[i] != '}' {
			ke := jsonx.StringEnd(b, i)
			if ke < 0 || ke >= len(b) || b[ke] != ':' {
				return nil, false
			}
			key := b[i+1 : ke-1]
			ve := jsonx.ValueEnd(b, ke+1)
			if ve < 0 {
				return nil, false
			}
			if keyIs(key, name) {
				if depth == len(path)-1 {
					return b[ke+1 : ve], true
				}
				i, found = ke+1, true
				break
			}
			i = ve
			if i < len(b) && b[i] == ',' {
				i++
			}
		}
		if !found {
			return nil, false
		}
	}
	return nil, false
}

// keyIs compares a raw member name with a path segment as the scan does:
// byte for byte, escapes as written.
func keyIs(raw []byte, name string) bool { return string(raw) == name }
