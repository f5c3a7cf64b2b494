package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/protobuf/encoding/protowire"
)

// idSentinel stands for a record id in an OTLP template until its offset
// is known; it is idWidth bytes, like the digits that replace it.
var idSentinel = bytes.Repeat([]byte{'@'}, idWidth)

// otlpTemplate turns n NDJSON records into one ExportLogsServiceRequest
// (protobuf, encoded by the Collector's pdata as an SDK would), as an SDK
// would log them: the record's "timestamp", "ts", "time" or "@timestamp"
// becomes the time_unix_nano, its "msg" the body, and its other fields the
// attributes, in order, "id" first. It returns the body and the offset of
// each record's id digits.
func otlpTemplate(ndjson []byte, n int) ([]byte, []int, error) {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "ingest-bench")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("ingest-bench")
	for _, line := range bytes.Split(bytes.TrimSuffix(ndjson, []byte("\n")), []byte("\n")) {
		lr := sl.LogRecords().AppendEmpty()
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil { // {
			return nil, nil, fmt.Errorf("bench: otlp template: %w", err)
		}
		if err := objectInto(dec, lr.Attributes()); err != nil {
			return nil, nil, fmt.Errorf("bench: otlp template: %w", err)
		}
		attrs := lr.Attributes()
		attrs.PutStr("id", string(idSentinel)) // keeps its place, first
		for _, k := range []string{"timestamp", "ts", "@timestamp", "time"} {
			v, ok := attrs.Get(k)
			if !ok {
				continue
			}
			switch v.Type() {
			case pcommon.ValueTypeStr:
				if t, err := time.Parse(time.RFC3339Nano, v.Str()); err == nil {
					lr.SetTimestamp(pcommon.NewTimestampFromTime(t))
				}
			case pcommon.ValueTypeInt: // epoch milliseconds (the metrics shape)
				lr.SetTimestamp(pcommon.Timestamp(v.Int() * 1e6))
			}
			if lr.Timestamp() != 0 {
				attrs.Remove(k)
			}
			break
		}
		if m, ok := attrs.Get("msg"); ok && m.Type() == pcommon.ValueTypeStr {
			lr.Body().SetStr(m.Str())
			attrs.Remove("msg")
		}
	}
	if got := sl.LogRecords().Len(); got != n {
		return nil, nil, fmt.Errorf("bench: otlp template: %d records, want %d", got, n)
	}
	body, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		return nil, nil, err
	}
	var offs []int
	for i := 0; ; {
		j := bytes.Index(body[i:], idSentinel)
		if j < 0 {
			break
		}
		offs = append(offs, i+j)
		copy(body[i+j:], bytes.Repeat([]byte{'0'}, idWidth))
		i += j + idWidth
	}
	if len(offs) != n {
		return nil, nil, fmt.Errorf("bench: otlp template: %d ids, want %d", len(offs), n)
	}
	return body, offs, nil
}

// objectInto reads an object's members (after its '{') into m, in order.
func objectInto(dec *json.Decoder, m pcommon.Map) error {
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := k.(string)
		if key == "id" {
			m.PutStr("id", "") // the place of the id; the sentinel comes later
			if _, err := dec.Token(); err != nil {
				return err
			}
			continue
		}
		if err := valueInto(dec, m.PutEmpty(key)); err != nil {
			return err
		}
	}
	_, err := dec.Token() // }
	return err
}

func valueInto(dec *json.Decoder, v pcommon.Value) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := t.(type) {
	case json.Delim:
		if t == '{' {
			return objectInto(dec, v.SetEmptyMap())
		}
		s := v.SetEmptySlice()
		for dec.More() {
			if err := valueInto(dec, s.AppendEmpty()); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ]
		return err
	case string:
		v.SetStr(t)
	case bool:
		v.SetBool(t)
	case json.Number:
		if i, err := t.Int64(); err == nil && !strings.ContainsAny(t.String(), ".eE") {
			v.SetInt(i)
		} else if f, err := t.Float64(); err == nil {
			v.SetDouble(f)
		}
	case nil:
	default:
		return io.ErrUnexpectedEOF
	}
	return nil
}

// otlpAccepted is the records an OTLP answer accepted: all n, less the
// rejected_log_records of its partial_success.
func otlpAccepted(resp []byte, n int64) int64 {
	for len(resp) > 0 {
		num, typ, l := protowire.ConsumeTag(resp)
		if l < 0 {
			return -1
		}
		resp = resp[l:]
		if num == 1 && typ == protowire.BytesType { // partial_success
			ps, l := protowire.ConsumeBytes(resp)
			if l < 0 {
				return -1
			}
			resp = resp[l:]
			for len(ps) > 0 {
				pn, pt, l := protowire.ConsumeTag(ps)
				if l < 0 {
					return -1
				}
				ps = ps[l:]
				if pn == 1 && pt == protowire.VarintType {
					r, l := protowire.ConsumeVarint(ps)
					if l < 0 {
						return -1
					}
					n -= int64(r)
					ps = ps[l:]
					continue
				}
				if l = protowire.ConsumeFieldValue(pn, pt, ps); l < 0 {
					return -1
				}
				ps = ps[l:]
			}
			continue
		}
		if l = protowire.ConsumeFieldValue(num, typ, resp); l < 0 {
			return -1
		}
		resp = resp[l:]
	}
	return n
}
