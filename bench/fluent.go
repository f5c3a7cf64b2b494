package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// fluentKey precedes a record's id in what the daemon stores of a forward
// event: {"timestamp":…,"tag":…,"record":{"id":"…
var fluentKey = []byte(`"record":{"id":"`)

// fluentTemplate turns n NDJSON records into the start of a Forward-mode
// message, [tag, [[EventTime, record], …], as Fluent Bit sends them (the
// record's fields as a MessagePack map, "id" first; its time as the
// EventTime); the sender appends the option map with the chunk to
// acknowledge. It returns the bytes and the offset of each id's digits.
func fluentTemplate(ndjson []byte, n int) ([]byte, []int, error) {
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, "bench")
	b = msgp.AppendArrayHeader(b, uint32(n))
	var offs []int
	lines := bytes.Split(bytes.TrimSuffix(ndjson, []byte("\n")), []byte("\n"))
	if len(lines) != n {
		return nil, nil, fmt.Errorf("bench: fluent template: %d records, want %d", len(lines), n)
	}
	for _, line := range lines {
		var ts time.Time
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, nil, fmt.Errorf("bench: fluent template: %w", err)
		}
		for _, k := range []string{"timestamp", "ts", "@timestamp", "time"} {
			switch v := rec[k].(type) {
			case string:
				ts, _ = time.Parse(time.RFC3339Nano, v)
			case float64: // epoch milliseconds (the metrics shape)
				ts = time.UnixMilli(int64(v))
			}
			if !ts.IsZero() {
				break
			}
		}
		b = msgp.AppendArrayHeader(b, 2)
		b = append(b, 0xd7, 0x00)
		b = binary.BigEndian.AppendUint32(b, uint32(ts.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(ts.Nanosecond()))
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var err error
		if b, err = appendMsgpValue(b, dec, &offs); err != nil {
			return nil, nil, fmt.Errorf("bench: fluent template: %w", err)
		}
	}
	if len(offs) != n {
		return nil, nil, fmt.Errorf("bench: fluent template: %d ids, want %d", len(offs), n)
	}
	return b, offs, nil
}

// appendMsgpValue appends the next JSON value of dec as MessagePack; the
// top-level "id" member's string is recorded in offs.
func appendMsgpValue(b []byte, dec *json.Decoder, offs *[]int) ([]byte, error) {
	t, err := dec.Token()
	if err != nil {
		return b, err
	}
	switch t := t.(type) {
	case json.Delim:
		var items [][]byte
		for dec.More() {
			var item []byte
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return b, err
				}
				item = msgp.AppendString(item, k.(string))
			}
			v, err := appendMsgpValue(nil, dec, nil)
			if err != nil {
				return b, err
			}
			items = append(items, append(item, v...))
		}
		if _, err := dec.Token(); err != nil { // } or ]
			return b, err
		}
		if t == '{' {
			b = msgp.AppendMapHeader(b, uint32(len(items)))
		} else {
			b = msgp.AppendArrayHeader(b, uint32(len(items)))
		}
		for i, it := range items {
			if offs != nil && i == 0 && t == '{' && bytes.HasPrefix(it, msgp.AppendString(nil, "id")) {
				*offs = append(*offs, len(b)+len(it)-idWidth)
			}
			b = append(b, it...)
		}
	case string:
		b = msgp.AppendString(b, t)
	case bool:
		b = msgp.AppendBool(b, t)
	case json.Number:
		if i, err := t.Int64(); err == nil && !strings.ContainsAny(t.String(), ".eE") {
			b = msgp.AppendInt64(b, i)
		} else if f, err := t.Float64(); err == nil {
			b = msgp.AppendFloat64(b, f)
		}
	case nil:
		b = msgp.AppendNil(b)
	default:
		return b, io.ErrUnexpectedEOF
	}
	return b, nil
}

// fluentClients are one forward connection per load connection.
type fluentClients struct {
	addr  string
	conns []net.Conn
}

func newFluentClients(url string, n int) *fluentClients {
	addr := strings.TrimRight(strings.TrimPrefix(strings.TrimPrefix(url, "tcp://"), "http://"), "/")
	return &fluentClients{addr: addr, conns: make([]net.Conn, n)}
}

// send writes message body with the chunk option (the request index) on
// connection c and waits for its ack: "200" once acknowledged, "error"
// when the connection failed (it is dialled again next time).
func (f *fluentClients) send(c int, body []byte, index int64, timeout time.Duration, buf *[]byte) string {
	if f.conns[c] == nil {
		conn, err := net.DialTimeout("tcp", f.addr, timeout)
		if err != nil {
			return "error"
		}
		f.conns[c] = conn
	}
	conn := f.conns[c]
	chunk := strconv.AppendInt(nil, index, 10)
	msg := append((*buf)[:0], body...)
	msg = msgp.AppendMapHeader(msg, 1)
	msg = msgp.AppendString(msg, "chunk")
	msg = msgp.AppendStringFromBytes(msg, chunk)
	*buf = msg
	conn.SetDeadline(time.Now().Add(timeout))
	fail := func() string { conn.Close(); f.conns[c] = nil; return "error" }
	if _, err := conn.Write(msg); err != nil {
		return fail()
	}
	var ack []byte
	one := make([]byte, 256)
	for {
		n, err := conn.Read(one)
		ack = append(ack, one[:n]...)
		if _, serr := msgp.Skip(ack); serr == nil {
			break
		}
		if err != nil {
			return fail()
		}
	}
	// {"ack": chunk}
	if !bytes.Contains(ack, chunk) {
		return fail()
	}
	return "200"
}

func (f *fluentClients) close() {
	for _, c := range f.conns {
		if c != nil {
			c.Close()
		}
	}
}
