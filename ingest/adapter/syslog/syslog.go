// Package syslog is the adapter for syslog messages (RFC 5424 and RFC 3164),
// parsed by github.com/leodido/go-syslog (the parser Telegraf and the
// OpenTelemetry Collector use), framed by octet counting (RFC 6587) or
// newlines on TCP, one message a datagram on UDP. Each message becomes one
// record:
//
//	{"timestamp":"<RFC 3339 ns>","hostname":…,"app_name":…,"proc_id":…,"msg_id":…,
//	 "facility":N,"severity":N,"structured_data":{"id":{"param":"value"}},"message":…,"remote_addr":…}
//
// (absent fields are left out). An RFC 3164 timestamp has no year or zone:
// it is read as UTC in the current year, or the year before when that would
// put it more than a day ahead of the receive time (December's messages
// arriving in January). It knows nothing of sockets, the WAL or the store.
package syslog

import (
	"sort"
	"strconv"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/auto"
	"github.com/leodido/go-syslog/v4/nontransparent"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/internal/jsonx"
)

// Options are the core's options for a batch of messages: a message the
// record rules refuse goes to the rejected-lines store; the rest are stored.
var Options = adapter.Options{Skip: true, KeepBad: true}

func rfc3164Options() gosyslog.ParserOption {
	return auto.WithRFC3164MachineOptions(rfc3164.WithYear(rfc3164.CurrentYear{}), rfc3164.WithTimezone(time.UTC))
}

// NewStreamParser returns the parser of a TCP stream: octet counting when
// the stream starts with a digit (first is its first byte), newline framing
// otherwise, RFC 5424 or 3164 detected per message. fn receives every result.
func NewStreamParser(first byte, maxMessage int, fn gosyslog.ParserListener) gosyslog.Parser {
	opts := []gosyslog.ParserOption{gosyslog.WithListener(fn), gosyslog.WithMaxMessageLength(maxMessage), rfc3164Options()}
	if first >= '1' && first <= '9' {
		return octetcounting.NewParserAuto(opts...)
	}
	return nontransparent.NewParserAuto(opts...)
}

// NewMachine returns the parser of one message (a UDP datagram).
func NewMachine() gosyslog.Machine {
	return auto.NewMachine(auto.WithRFC3164Options(rfc3164.WithYear(rfc3164.CurrentYear{}), rfc3164.WithTimezone(time.UTC)))
}

// AppendRecord appends the record of message m, received now from remote.
func AppendRecord(dst []byte, m gosyslog.Message, remote string, now time.Time) []byte {
	var b *gosyslog.Base
	var sd *map[string]map[string]string
	switch x := m.(type) {
	case *rfc5424.SyslogMessage:
		b, sd = &x.Base, x.StructuredData
	case *rfc3164.SyslogMessage:
		b = &x.Base
	default:
		return dst
	}
	dst = append(dst, '{')
	field := func(name string) { dst = jsonx.AppendKey(dst, name) }
	str := func(name string, v *string) {
		if v != nil && *v != "" {
			field(name)
			dst = jsonx.AppendString(dst, *v)
		}
	}
	if b.Timestamp != nil {
		ts := b.Timestamp.UTC()
		if _, is3164 := m.(*rfc3164.SyslogMessage); is3164 && ts.After(now.Add(24*time.Hour)) {
			ts = ts.AddDate(-1, 0, 0)
		}
		field("timestamp")
		dst = append(dst, '"')
		dst = ts.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	str("hostname", b.Hostname)
	str("app_name", b.Appname)
	str("proc_id", b.ProcID)
	str("msg_id", b.MsgID)
	if b.Facility != nil {
		field("facility")
		dst = strconv.AppendUint(dst, uint64(*b.Facility), 10)
	}
	if b.Severity != nil {
		field("severity")
		dst = strconv.AppendUint(dst, uint64(*b.Severity), 10)
	}
	if sd != nil && len(*sd) > 0 {
		field("structured_data")
		dst = appendSD(dst, *sd)
	}
	str("message", b.Message)
	if remote != "" {
		field("remote_addr")
		dst = jsonx.AppendString(dst, remote)
	}
	return append(dst, "}\n"...)
}

// appendSD appends structured data as an object of objects, ids and
// parameter names in order, so a message is stored the same every time.
func appendSD(dst []byte, sd map[string]map[string]string) []byte {
	ids := make([]string, 0, len(sd))
	for id := range sd {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	dst = append(dst, '{')
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonx.AppendString(dst, id)
		dst = append(dst, ':', '{')
		params := make([]string, 0, len(sd[id]))
		for p := range sd[id] {
			params = append(params, p)
		}
		sort.Strings(params)
		for j, p := range params {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = jsonx.AppendString(dst, p)
			dst = append(dst, ':')
			dst = jsonx.AppendString(dst, sd[id][p])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
