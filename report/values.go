package report

import (
	"strconv"
	"unsafe"

	"github.com/ingestd/ingestd/internal/jsonx"
)

// Values: each record's fields walked into the batch's columns (typed
// values, filter tokens, zero-config candidates) and its timestamp.

// record parses one line into the builders.
func (w *worker) record(line []byte, day int64) {
	for _, c := range w.cols {
		c.set = false
	}
	for _, c := range w.fcols {
		c.set = false
	}
	for _, c := range w.autoCols {
		c.set = false
	}
	w.tsRank, w.tsVal, w.pos = len(w.cfg.TimestampFields), nil, 0
	w.serial++
	i := jsonx.SkipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		w.agg.Quality.BadLines++
		return
	}
	end, ok := w.object(line, i, 0, 0, nil)
	if !ok || jsonx.SkipWS(line, end) != len(line) {
		w.agg.Quality.BadLines++
		return
	}
	w.rows++
	ns, err := w.parseTS()
	if err == nil {
		w.ts.add(floorDiv(ns, 1000))
	} else {
		w.ts.addNull()
		w.agg.Quality.NoTimestamp++
	}
	if !w.filtering { // else counted once the batch is filtered
		w.agg.Records++
		if err != nil {
			w.agg.day(day).Records++
		}
	} else {
		w.rowDay = append(w.rowDay, day)
	}
	for _, c := range w.fcols {
		c.addToken()
	}
	for _, c := range w.cols {
		w.appendValue(c)
	}
	for _, c := range w.autoCols {
		appendAuto(c)
	}
	if w.raw != nil {
		w.raw.add(line)
	}
}

// appendAuto appends this record's value to a candidate column: a number,
// or a string's (unquoted) text, a boolean's or a number's JSON text; null
// for anything else, uncounted (a candidate is no promise of a type).
func appendAuto(c *column) {
	v := c.val
	if !c.set || v[0] == 'n' || v[0] == '{' || v[0] == '[' {
		c.addNull()
		return
	}
	if c.f64 != nil {
		if f, ok := parseNumber(v); ok {
			c.f64.add(f)
		} else {
			c.f64.addNull()
		}
		return
	}
	if v[0] == '"' {
		v = v[1 : len(v)-1]
		if c.esc {
			s, err := strconv.Unquote(string(c.val))
			if err != nil {
				c.addNull()
				return
			}
			v = []byte(s)
		}
	}
	if c.hashed != nil {
		c.hashed.add(v)
		return
	}
	c.dict.add(v)
	if c.dict.dict.len() > autoDictMax {
		c.toHash()
	}
}

func (w *worker) parseTS() (int64, error) {
	if w.tsVal == nil {
		return 0, errNoTS
	}
	return w.cfg.ParseTimestamp(w.tsVal)
}

// Filter columns hold a field's JSON value as the record has it; objects
// and arrays, which no comparison matches, as these placeholders.
var objToken, arrToken = []byte("{}"), []byte("[]")

// addToken appends this record's value to a filter column.
func (c *column) addToken() {
	switch {
	case !c.set:
		c.dict.addNull()
	case c.val[0] == '{':
		c.dict.add(objToken)
	case c.val[0] == '[':
		c.dict.add(arrToken)
	default:
		c.dict.add(c.val)
	}
}

func (w *worker) appendValue(c *column) {
	if !c.set || c.val[0] == 'n' {
		c.addNull()
		return
	}
	v := c.val
	if c.metric {
		if f, ok := parseNumber(v); ok {
			c.f64.add(f)
			return
		}
		c.addNull()
		w.agg.Quality.TypeMismatch[c.name]++
		return
	}
	switch v[0] {
	case '"':
		v = v[1 : len(v)-1]
		if c.esc {
			s, err := strconv.Unquote(string(c.val))
			if err != nil {
				c.addNull()
				w.agg.Quality.TypeMismatch[c.name]++
				return
			}
			w.unq = append(w.unq[:0], s...)
			v = w.unq
		}
	case '{', '[':
		c.addNull()
		w.agg.Quality.TypeMismatch[c.name]++
		return
	}
	if c.dict != nil { // numbers and booleans count by their JSON text
		c.dict.add(v)
	} else {
		c.str.add(v)
	}
}

// parseNumber reads a JSON number without allocating. A number of at most
// 19 digits whose digits, read as an integer, are at most 2^53 and with at
// most 22 after the point takes the exact fast path (Clinger): the digits
// are an exact float64 and so is the power of ten, so one division rounds
// correctly. Others (exponents, longer mantissas) go to strconv.
func parseNumber(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return 0, false
	}
	i, neg := 0, v[0] == '-'
	if neg {
		i = 1
	}
	start := i
	var mant uint64
	for ; i < len(v) && v[i]-'0' <= 9; i++ {
		mant = mant*10 + uint64(v[i]-'0')
	}
	nd, frac := i-start, 0
	if i < len(v) && v[i] == '.' {
		i++
		fs := i
		for ; i < len(v) && v[i]-'0' <= 9; i++ {
			mant = mant*10 + uint64(v[i]-'0')
		}
		frac = i - fs
		nd += frac
	}
	if i == len(v) && nd > 0 && nd <= 19 && mant <= 1<<53 && frac <= 22 {
		f := float64(mant) / pow10[frac]
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(unsafe.String(&v[0], len(v)), 64)
	return f, err == nil
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}
