package record

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// Rules are the record rules (README "Send data"). The zero value is not
// usable; DefaultRules returns the defaults.
type Rules struct {
	TimestampFields  []string      // first present wins, in this order
	MissingTimestamp string        // "add" (default) or "reject"
	AddField         string        // field added when missing ("timestamp")
	MaxFuture        time.Duration // reject timestamps further ahead (24h)
	MaxPast          time.Duration // reject timestamps older (0: no limit)
	MaxDepth         int           // nesting limit (64)
	MaxRecord        int           // bytes per record (4 MiB)
	MaxErrors        int           // errors listed in a ?invalid=skip answer (100)
}

// DefaultRules returns the rules of the embedded default configuration.
func DefaultRules() Rules {
	return Rules{
		TimestampFields:  []string{"timestamp", "ts", "@timestamp", "time", "_time"},
		MissingTimestamp: "add",
		AddField:         "timestamp",
		MaxFuture:        24 * time.Hour,
		MaxDepth:         64,
		MaxRecord:        4 << 20,
		MaxErrors:        100,
	}
}

// Validate checks the rules.
func (r Rules) Validate() error {
	switch {
	case len(r.TimestampFields) == 0:
		return errors.New("records.timestamp_fields: at least one field")
	case r.MissingTimestamp != "add" && r.MissingTimestamp != "reject":
		return fmt.Errorf("records.missing_timestamp: %q (want add or reject)", r.MissingTimestamp)
	case r.MissingTimestamp == "add" && (r.AddField == "" || strconv.Quote(r.AddField) != `"`+r.AddField+`"`):
		return fmt.Errorf("records.add_field: %q must be a plain non-empty name", r.AddField)
	case r.MaxFuture < 0 || r.MaxPast < 0:
		return errors.New("records.max_future/max_past: must not be negative")
	case r.MaxDepth < 1 || r.MaxDepth > 10000:
		return fmt.Errorf("records.max_depth: %d (want 1..10000)", r.MaxDepth)
	case r.MaxRecord < 16:
		return fmt.Errorf("records.max_record: %d bytes is too small", r.MaxRecord)
	case r.MaxErrors < 1:
		return fmt.Errorf("records.max_errors: %d (want ≥ 1)", r.MaxErrors)
	}
	for _, f := range r.TimestampFields {
		if f == "" {
			return errors.New("records.timestamp_fields: empty name")
		}
	}
	return nil
}

// Rec locates one accepted record in Batch.Buf.
type Rec struct {
	Off, Len uint32 // the compact record, without its newline
	TS       int64  // Unix nanoseconds
}

// LineError is one rejected record.
type LineError struct {
	Line int    // 1-based NDJSON line or array element
	Err  string // why
}

// Rejection reasons, as counted in metrics.
const (
	ReasonInvalidJSON = "invalid_json" // grammar, UTF-8, control characters, depth
	ReasonNotObject   = "not_object"
	ReasonTimestamp   = "timestamp" // unparseable, missing (reject mode) or out of window
	ReasonTooLarge    = "too_large"
)

// Reasons lists every reason, in the order of Batch.ByReason.
var Reasons = [...]string{ReasonInvalidJSON, ReasonNotObject, ReasonTimestamp, ReasonTooLarge}

// tsError marks errors about a record's timestamp.
type tsError struct{ error }

func (e tsError) Unwrap() error { return e.error }

// tooLargeError marks a record over the size limit.
type tooLargeError struct{ error }

func reasonIndex(err error) int {
	var se *SyntaxError
	var te tsError
	var le tooLargeError
	switch {
	case errors.As(err, &se):
		return 0
	case errors.Is(err, errNotObject):
		return 1
	case errors.As(err, &te):
		return 2
	case errors.As(err, &le):
		return 3
	}
	return 0
}

// Batch holds the accepted records of one request in one contiguous buffer
// (each record followed by '\n') and the rejected ones. It is reused across
// requests; Reset before each.
type Batch struct {
	Buf      []byte
	Recs     []Rec
	Errs     []LineError // the first Rules.MaxErrors rejections
	Rejected int         // all rejections
	ByReason [len(Reasons)]int
	Bad      []BadLine // every rejection with ?invalid=skip, for the rejected-lines store
	BadBuf   []byte    // the rejected lines' bytes (each cut at MaxBadLine)
}

// BadLine is one line rejected with ?invalid=skip: BadBuf[Off:Off+Len].
type BadLine struct {
	Line      int
	Reason    string
	Err       string
	Off, Len  int
	Truncated bool // the line was longer than MaxBadLine
}

// MaxBadLine is the most of one rejected line that is kept.
const MaxBadLine = 1 << 20

// Line returns the kept bytes of l.
func (b *Batch) Line(l BadLine) []byte { return b.BadBuf[l.Off : l.Off+l.Len] }

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	b.Buf, b.Recs, b.Errs, b.Rejected, b.ByReason = b.Buf[:0], b.Recs[:0], b.Errs[:0], 0, [len(Reasons)]int{}
	b.Bad, b.BadBuf = b.Bad[:0], b.BadBuf[:0]
}

// RequestError rejects a whole request (HTTP 400).
type RequestError struct {
	Line   int // 0 when not known
	Msg    string
	Reason string // one of Reasons
}

func (e *RequestError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var errNotObject = errors.New("record is not a JSON object")

// Parser turns request bodies into batches. A Parser is used by one
// goroutine at a time; it allocates nothing per record on success.
type Parser struct {
	rules  Rules
	sc     scanner
	now    time.Time
	nowTS  int64
	nowStr []byte    // `,"<field>":"<now RFC 3339 nano>"}`
	spare  []byte    // fillNull's copy of a record's tail
	one1   [1][]byte // ParseTimeField's list of one field
	skip   bool
	b      *Batch
}

// NewParser returns a parser for rules (which must be valid).
func NewParser(r Rules) *Parser {
	p := &Parser{rules: r}
	p.sc.maxDepth = r.MaxDepth
	for _, f := range r.TimestampFields {
		p.sc.fields = append(p.sc.fields, []byte(f))
		p.sc.fieldLens |= 1 << min(len(f), 63)
	}
	return p
}

// Parse splits body into records by its shape (a JSON array of objects,
// NDJSON, or one possibly pretty-printed object), validates and compacts
// each into b, and stamps records that lack a timestamp with now. Without
// skip, the first bad record rejects the request; with skip, bad records are
// counted in b and the rest kept. A grammar error inside an array or a
// multi-line object rejects the request either way (there is no line to
// resume at).
func (p *Parser) Parse(body []byte, now time.Time, skip bool, b *Batch) *RequestError {
	return p.ParseTimeField(body, now, skip, b, "")
}

// ParseTimeField is Parse with the record's time taken from field alone,
// instead of the rules' timestamp fields, when field is not "" (a
// protocol whose requests name their time field, as VictoriaLogs'
// _time_field does). A record without it gets the receive time, as the
// rules say for one without a timestamp.
func (p *Parser) ParseTimeField(body []byte, now time.Time, skip bool, b *Batch, field string) *RequestError {
	if field != "" {
		fields, lens := p.sc.fields, p.sc.fieldLens
		p.one1[0] = append(p.one1[0][:0], field...)
		p.sc.fields, p.sc.fieldLens = p.one1[:], 1<<min(len(field), 63)
		defer func() { p.sc.fields, p.sc.fieldLens = fields, lens }()
	}
	p.now, p.nowTS, p.skip, p.b = now, now.UnixNano(), skip, b
	p.nowStr = p.nowStr[:0]
	i := jsonx.SkipWS(body, 0)
	if i == len(body) {
		return nil
	}
	if body[i] == '[' {
		return p.parseArray(body, i)
	}
	return p.parseLines(body)
}

// reject handles a bad record: an error for the request, or a count and a
// copy of the line (raw) for the rejected-lines store.
func (p *Parser) reject(line int, raw []byte, err error) *RequestError {
	ri := reasonIndex(err)
	if !p.skip {
		return &RequestError{Line: line, Msg: err.Error(), Reason: Reasons[ri]}
	}
	p.b.ByReason[ri]++
	p.b.Rejected++
	msg := err.Error()
	if len(p.b.Errs) < p.rules.MaxErrors {
		p.b.Errs = append(p.b.Errs, LineError{Line: line, Err: msg})
	}
	bl := BadLine{Line: line, Reason: Reasons[ri], Err: msg, Off: len(p.b.BadBuf), Len: min(len(raw), MaxBadLine)}
	bl.Truncated = bl.Len < len(raw)
	p.b.BadBuf = append(p.b.BadBuf, raw[:bl.Len]...)
	p.b.Bad = append(p.b.Bad, bl)
	return nil
}

// one scans one record at src[pos:] (pos at its first byte) and appends it
// to the batch. It returns the position after it. A *SyntaxError means the
// grammar failed (the record's extent is unknown); other errors are about a
// well-formed record.
func (p *Parser) one(src []byte, pos int) (int, error) {
	b := p.b
	mark := len(b.Buf)
	s := &p.sc
	s.src, s.pos, s.dst = src, pos, b.Buf
	err := s.scanTop()
	b.Buf = s.dst
	end := s.pos
	s.src = nil
	if err == nil && len(b.Buf)-mark > p.rules.MaxRecord {
		err = tooLargeError{fmt.Errorf("record of %d bytes is over the limit records.max_record (%d bytes)", len(b.Buf)-mark, p.rules.MaxRecord)}
	}
	var ts int64
	if err == nil {
		ts, err = p.stamp(src, mark)
	}
	if err != nil {
		b.Buf = b.Buf[:mark]
		return end, err
	}
	b.Recs = append(b.Recs, Rec{Off: uint32(mark), Len: uint32(len(b.Buf) - mark), TS: ts})
	b.Buf = append(b.Buf, '\n')
	return end, nil
}

// stamp finds or adds the timestamp of the record just compacted at
// b.Buf[mark:] and checks its window.
func (p *Parser) stamp(src []byte, mark int) (int64, error) {
	s := &p.sc
	if s.tsRank < 0 {
		if p.rules.MissingTimestamp != "add" {
			return 0, tsError{errors.New("record has no timestamp field (none present, or null), and records.missing_timestamp is reject")}
		}
		if len(p.nowStr) == 0 {
			p.nowStr = append(p.nowStr, `,"`...)
			p.nowStr = append(p.nowStr, p.rules.AddField...)
			p.nowStr = append(p.nowStr, `":"`...)
			p.nowStr = p.now.UTC().AppendFormat(p.nowStr, time.RFC3339Nano)
			p.nowStr = append(p.nowStr, `"}`...)
		}
		if bytes.Contains(p.b.Buf[mark:], p.nowStr[1:len(p.rules.AddField)+4]) { // `"<add_field>":`, rare
			if ts, done, err := p.fillNull(mark); done {
				return ts, err
			}
		}
		buf := p.b.Buf[:len(p.b.Buf)-1] // drop '}'
		add := p.nowStr
		if buf[len(buf)-1] == '{' {
			add = add[1:] // empty object: no comma
		}
		p.b.Buf = append(buf, add...)
		return p.nowTS, nil
	}
	ts, err := ParseTimestamp(src[s.tsStart:s.tsEnd])
	if err != nil {
		return 0, tsError{fmt.Errorf("field %q: %w", string(p.sc.fields[s.tsRank]), err)}
	}
	if p.rules.MaxFuture > 0 && ts > p.nowTS+int64(p.rules.MaxFuture) {
		return 0, tsError{fmt.Errorf("field %q: timestamp more than %s in the future (records.max_future)", string(p.sc.fields[s.tsRank]), p.rules.MaxFuture)}
	}
	if p.rules.MaxPast > 0 && ts < p.nowTS-int64(p.rules.MaxPast) {
		return 0, tsError{fmt.Errorf("field %q: timestamp older than %s (records.max_past)", string(p.sc.fields[s.tsRank]), p.rules.MaxPast)}
	}
	return ts, nil
}

// fillNull handles a record without a timestamp whose compacted form has
// the add field's name: when it is a member at the top level (done), with
// null the receive time replaces the null (a timestamp field that is null
// counts as none); with another value the record is refused, since adding
// the field would repeat a member name. Otherwise the field is added as usual.
func (p *Parser) fillNull(mark int) (ts int64, done bool, err error) {
	rec := p.b.Buf[mark:]
	l := jsonx.Lexer{B: rec}
	at := -1
	l.Object(func(key []byte) {
		if name, ok := jsonx.Unquote(key); ok && name == p.rules.AddField {
			at = jsonx.SkipWS(rec, l.I)
		}
		l.Value()
	})
	if at < 0 || l.Err != nil {
		return 0, false, nil
	}
	if !bytes.HasPrefix(rec[at:], []byte("null")) {
		return 0, true, tsError{fmt.Errorf("no timestamp field has a value, and field %q, where the receive time would go, holds something else", p.rules.AddField)}
	}
	val := p.nowStr[len(p.rules.AddField)+4 : len(p.nowStr)-1] // the quoted time
	p.spare = append(p.spare[:0], rec[at+4:]...)
	p.b.Buf = append(append(p.b.Buf[:mark+at], val...), p.spare...)
	return p.nowTS, true, nil
}

func (p *Parser) parseArray(body []byte, i int) *RequestError {
	i = jsonx.SkipWS(body, i+1)
	if i < len(body) && body[i] == ']' {
		if j := jsonx.SkipWS(body, i+1); j != len(body) {
			return &RequestError{Msg: "unexpected data after the JSON array", Reason: ReasonInvalidJSON}
		}
		return nil
	}
	for k := 1; ; k++ {
		end, err := p.one(body, i)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				return &RequestError{Line: k, Msg: se.Error(), Reason: ReasonInvalidJSON}
			}
			if re := p.reject(k, body[i:max(end, i)], err); re != nil {
				return re
			}
		}
		i = jsonx.SkipWS(body, end)
		if i >= len(body) {
			return &RequestError{Line: k, Msg: "unexpected end of JSON array", Reason: ReasonInvalidJSON}
		}
		switch body[i] {
		case ',':
			i = jsonx.SkipWS(body, i+1)
		case ']':
			if j := jsonx.SkipWS(body, i+1); j != len(body) {
				return &RequestError{Line: k, Msg: "unexpected data after the JSON array", Reason: ReasonInvalidJSON}
			}
			return nil
		default:
			return &RequestError{Line: k, Msg: fmt.Sprintf("invalid character %q after array element", body[i]), Reason: ReasonInvalidJSON}
		}
	}
}

// parseLines handles NDJSON; a first record that does not end on its line
// switches to a stream of whitespace-separated (pretty-printed) objects.
func (p *Parser) parseLines(body []byte) *RequestError {
	line, first := 0, true
	for start := 0; start < len(body); {
		nl := bytes.IndexByte(body[start:], '\n')
		end := len(body)
		if nl >= 0 {
			end = start + nl
		}
		line++
		l := body[start:end]
		next := end + 1
		if i := jsonx.SkipWS(l, 0); i < len(l) {
			if len(l) > p.rules.MaxRecord+p.rules.MaxRecord/2+1024 {
				if re := p.reject(line, l, tooLargeError{fmt.Errorf("line of %d bytes is over the limit records.max_record (%d bytes for a record, compacted)", len(l), p.rules.MaxRecord)}); re != nil {
					return re
				}
				start = next
				first = false
				continue
			}
			mark, nrecs := len(p.b.Buf), len(p.b.Recs)
			e, err := p.one(l, i)
			if jsonx.SkipWS(l, e) != len(l) && (err == nil || !isSyntax(err)) {
				// trailing data makes the line invalid JSON, whatever else
				// was wrong with the record before it
				p.b.Buf, p.b.Recs = p.b.Buf[:mark], p.b.Recs[:nrecs]
				err = &SyntaxError{Msg: "unexpected data after the JSON object on the same line", Offset: e}
			}
			if err != nil {
				var se *SyntaxError
				if first && errors.As(err, &se) && se.EOF && nl >= 0 {
					if handled, re := p.parseStream(body, start, line); handled {
						return re
					}
				}
				if re := p.reject(line, l, err); re != nil {
					return re
				}
			}
			first = false
		}
		start = next
	}
	return nil
}

// isSyntax reports whether err is a grammar error. Apart from the
// per-line loop, so that the target of errors.As is allocated only for a
// line that failed.
func isSyntax(err error) bool {
	var se *SyntaxError
	return errors.As(err, &se)
}

// parseStream parses body[from:] as whitespace-separated objects, where the
// first one spans lines. When even the first object fails its grammar it
// returns handled=false with the batch as it was, so the caller reports the
// NDJSON error. Otherwise errors are reported at the line where the failing
// object starts.
func (p *Parser) parseStream(body []byte, from, line int) (handled bool, re *RequestError) {
	mark, nrecs := len(p.b.Buf), len(p.b.Recs)
	i := jsonx.SkipWS(body, from)
	for n := 0; i < len(body); n++ {
		line += bytes.Count(body[from:i], []byte{'\n'})
		from = i
		end, err := p.one(body, i)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				if n == 0 {
					p.b.Buf, p.b.Recs = p.b.Buf[:mark], p.b.Recs[:nrecs]
					return false, nil
				}
				return true, &RequestError{Line: line, Msg: se.Error(), Reason: ReasonInvalidJSON}
			}
			if re := p.reject(line, body[i:max(end, i)], err); re != nil {
				return true, re
			}
		}
		i = jsonx.SkipWS(body, end)
	}
	return true, nil
}
