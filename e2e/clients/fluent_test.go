package clients

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"

	"github.com/ingestd/ingestd/internal/e2e"
	"github.com/ingestd/ingestd/internal/testenv"
)

// fluentStored is one stored forward event.
type fluentStored struct {
	Timestamp string         `json:"timestamp"`
	Tag       string         `json:"tag"`
	Record    map[string]any `json:"record"`
}

// The official Go Fluent logger (fluent-logger-golang), unmodified, posts
// events with RequestAck and sub-second EventTime, in plain TCP and over
// TLS: every Post returns only once the daemon acknowledged its chunk, and
// every event is stored once.
func TestFluentLoggerRequestAck(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"tcp", "tls"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := "auth:\n  tokens: [{name: fluent-bit, token: fluent-token-0123456789}]\nfluent:\n  listen: 127.0.0.1:0\n  token: fluent-token-0123456789\nreport:\n  schedule: \"off\"\n"
			if mode == "tls" {
				_, _, cert, key := testCA(t, t.TempDir())
				cfg += fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n", cert, key)
				cfg = strings.Replace(cfg, "fluent:\n", "fluent:\n  tls: true\n", 1)
			}
			d := e2e.Start(t, dir, cfg)
			addr := listenerAddr(t, d, `msg="listening for fluent forward" addr=(\S+)`)
			host, port, _ := net.SplitHostPort(addr)
			var p int
			fmt.Sscan(port, &p)
			// The logger checks certificates against the system's roots
			// only; the test CA is not one, so verification is off here.
			logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: p, FluentNetwork: mode, RequestAck: true,
				SubSecondPrecision: true, TlsInsecureSkipVerify: true, Timeout: 5 * time.Second, MaxRetry: 3})
			if err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)
			const n = 300
			for i := 0; i < n; i++ {
				rec := map[string]any{"i": i, "log": fmt.Sprintf("request %d served in %d ms, path \"/a/%x\"", i, i%97, i*31337),
					"kubernetes": map[string]any{"pod": fmt.Sprintf("web-%d", i%5), "labels": map[string]string{"app": "web"}}, "ok": i%7 != 0}
				if err := logger.PostWithTime("app.web", base.Add(time.Duration(i)*1234567*time.Nanosecond), rec); err != nil {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			logger.Close()
			d.Stop()
			got := map[int]bool{}
			for _, line := range e2e.AllStored(t, dir) {
				var s fluentStored
				if err := json.Unmarshal([]byte(line), &s); err != nil {
					t.Fatalf("stored %s: %v", line, err)
				}
				i := int(s.Record["i"].(float64))
				k, _ := s.Record["kubernetes"].(map[string]any)
				if got[i] || s.Tag != "app.web" || s.Timestamp != base.Add(time.Duration(i)*1234567*time.Nanosecond).Format(time.RFC3339Nano) ||
					s.Record["log"] != fmt.Sprintf("request %d served in %d ms, path \"/a/%x\"", i, i%97, i*31337) ||
					k["pod"] != fmt.Sprintf("web-%d", i%5) || s.Record["ok"] != (i%7 != 0) {
					t.Fatalf("event %d stored wrong or twice: %s", i, line)
				}
				got[i] = true
			}
			if len(got) != n {
				t.Fatalf("stored %d events, want %d", len(got), n)
			}
		})
	}
}

// The forward modes the Go logger does not send, by hand: Forward,
// PackedForward and CompressedPackedForward with chunk acks, an integer
// time, and binary values; a connection sending what is not a forward
// message is closed, and nothing of it is stored.
func TestFluentForwardModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "fluent:\n  listen: 127.0.0.1:0\n  max_message: 64KiB\nreport:\n  schedule: \"off\"\n")
	addr := listenerAddr(t, d, `msg="listening for fluent forward" addr=(\S+)`)
	eventTime := func(b []byte, sec, nsec uint32) []byte {
		return append(b, 0xd7, 0x00, byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec), byte(nsec>>24), byte(nsec>>16), byte(nsec>>8), byte(nsec))
	}
	entry := func(b []byte, sec uint32, msg string) []byte {
		b = msgp.AppendArrayHeader(b, 2)
		b = eventTime(b, sec, 500)
		b = msgp.AppendMapHeader(b, 2)
		b = msgp.AppendString(b, "msg")
		b = msgp.AppendString(b, msg)
		b = msgp.AppendString(b, "raw")
		return msgp.AppendBytes(b, []byte{0xff, 0x00, 0x01})
	}
	option := func(b []byte, chunk string, compressed bool) []byte {
		if compressed {
			b = msgp.AppendMapHeader(b, 2)
			b = msgp.AppendString(b, "compressed")
			b = msgp.AppendString(b, "gzip")
		} else {
			b = msgp.AppendMapHeader(b, 1)
		}
		b = msgp.AppendString(b, "chunk")
		return msgp.AppendString(b, chunk)
	}
	var stream []byte
	// Forward: [tag, [[time, record], …], option]
	stream = msgp.AppendArrayHeader(stream, 3)
	stream = msgp.AppendString(stream, "fwd")
	stream = msgp.AppendArrayHeader(stream, 2)
	stream = entry(stream, 1793700000, "forward one")
	stream = entry(stream, 1793700001, "forward two")
	stream = option(stream, "c1", false)
	// PackedForward: [tag, bin(entries), option]
	var packed []byte
	packed = entry(packed, 1793700002, "packed one")
	packed = entry(packed, 1793700003, "packed two")
	stream = msgp.AppendArrayHeader(stream, 3)
	stream = msgp.AppendString(stream, "packed")
	stream = msgp.AppendBytes(stream, packed)
	stream = option(stream, "c2", false)
	// CompressedPackedForward: [tag, bin(gzip(entries)), {compressed: gzip}]
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(entry(entry(nil, 1793700004, "zipped one"), 1793700005, "zipped two"))
	zw.Close()
	stream = msgp.AppendArrayHeader(stream, 3)
	stream = msgp.AppendString(stream, "zipped")
	stream = msgp.AppendBytes(stream, z.Bytes())
	stream = option(stream, "c3", true)
	// Message with an integer time and no option (no ack).
	stream = msgp.AppendArrayHeader(stream, 3)
	stream = msgp.AppendString(stream, "msg")
	stream = msgp.AppendInt64(stream, 1793700006)
	stream = msgp.AppendMapHeader(stream, 1)
	stream = msgp.AppendString(stream, "msg")
	stream = msgp.AppendString(stream, "message mode")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// Written in small pieces: messages split across reads.
	for i := 0; i < len(stream); i += 7 {
		c.Write(stream[i:min(i+7, len(stream))])
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for _, want := range []string{"c1", "c2", "c3"} {
		var ack map[string]any
		b := make([]byte, 0, 64)
		for {
			x, err := r.ReadByte()
			if err != nil {
				t.Fatalf("waiting for ack %s: %v", want, err)
			}
			b = append(b, x)
			if _, err := msgp.Skip(b); err == nil {
				break
			}
		}
		var buf bytes.Buffer
		msgp.UnmarshalAsJSON(&buf, b)
		json.Unmarshal(buf.Bytes(), &ack)
		if ack["ack"] != want {
			t.Fatalf("ack %s, want %s", buf.String(), want)
		}
	}
	c.Close()
	// Not MessagePack of a forward message: closed, nothing stored.
	for _, bad := range [][]byte{{0xc1}, msgp.AppendString(nil, "just a string"), append(msgp.AppendArrayHeader(nil, 2), msgp.AppendInt(nil, 1)...)} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(append(bad, msgp.AppendNil(nil)...))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("%x: the connection stayed open", bad)
		}
		c.Close()
	}
	// Over fluent.max_message: closed.
	big := msgp.AppendArrayHeader(nil, 3)
	big = msgp.AppendString(big, "big")
	big = msgp.AppendInt64(big, 1793700007)
	big = msgp.AppendMapHeader(big, 1)
	big = msgp.AppendString(big, "msg")
	big = msgp.AppendString(big, strings.Repeat("x", 70<<10))
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(big)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a message over max_message: the connection stayed open")
	}
	c.Close()
	time.Sleep(200 * time.Millisecond) // the no-ack message of the first connection is committed before its close
	d.Stop()
	var lines []string
	for _, l := range e2e.AllStored(t, dir) {
		lines = append(lines, l)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`{"timestamp":"2026-11-03T10:00:00.0000005Z","tag":"fwd","record":{"msg":"forward one","raw":"/wAB"}}`,
		`"tag":"fwd","record":{"msg":"forward two"`,
		`"tag":"packed","record":{"msg":"packed one"`, `"tag":"packed","record":{"msg":"packed two"`,
		`"tag":"zipped","record":{"msg":"zipped one"`, `"tag":"zipped","record":{"msg":"zipped two"`,
		`{"timestamp":"2026-11-03T10:00:06Z","tag":"msg","record":{"msg":"message mode"}}`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("stored records lack %s:\n%.2000s", want, all)
		}
	}
	if len(lines) != 7 {
		t.Errorf("stored %d records, want 7:\n%.2000s", len(lines), all)
	}
}

// The Fluent organisation's Node.js logger (npm fluent-logger), unmodified,
// with the shared-key handshake (its shared_key is the daemon's token) and
// requireAckResponse, in its three event modes: Message and PackedForward
// over TCP, CompressedPackedForward and Message over TLS (checked against
// the test CA). Every event is stored once; a shared key that is no token
// fails the handshake and stores nothing.
func TestFluentNodeLoggerHandshake(t *testing.T) {
	t.Parallel()
	script := filepath.Join(e2e.RepoRoot(), ".ci", "fluent", "send.cjs")
	if _, err := os.Stat(filepath.Join(e2e.RepoRoot(), ".ci", "fluent", "node_modules", "fluent-logger")); err != nil {
		testenv.Missing(t, "fluent-logger", "npm install --prefix .ci/fluent fluent-logger@3.4.1")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node", "apt-get install nodejs npm")
	}
	for _, c := range []struct {
		name  string
		modes []string
	}{{"tcp", []string{"Message", "PackedForward"}}, {"tls", []string{"CompressedPackedForward", "Message"}}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := "auth:\n  tokens: [{name: node-app, token: fluent-shared-0123456789}]\nfluent:\n  listen: 127.0.0.1:0\n  handshake: true\nreport:\n  schedule: \"off\"\n"
			var extra []string
			if c.name == "tls" {
				ca, _, cert, key := testCA(t, t.TempDir())
				cfg += fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n", cert, key)
				cfg = strings.Replace(cfg, "  handshake: true\n", "  handshake: true\n  tls: true\n", 1)
				extra = []string{ca}
			}
			d := e2e.Start(t, dir, cfg)
			addr := listenerAddr(t, d, `msg="listening for fluent forward" addr=(\S+)`)
			host, port, _ := net.SplitHostPort(addr)
			const n = 120
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for _, mode := range c.modes {
				args := append([]string{script, host, port, "fluent-shared-0123456789", fmt.Sprint(n), mode}, extra...)
				if out, err := exec.CommandContext(ctx, node, args...).CombinedOutput(); err != nil {
					t.Fatalf("fluent-logger %s: %v\n%s", mode, err, out)
				}
			}
			args := append([]string{script, host, port, "not-a-token", "1", "Message"}, extra...)
			out, err := exec.CommandContext(ctx, node, args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "shared_key mismatch") {
				t.Fatalf("a shared key that is no token: %v\n%s", err, out)
			}
			d.Stop()
			seen := map[string]bool{}
			for _, line := range e2e.AllStored(t, dir) {
				var s fluentStored
				if err := json.Unmarshal([]byte(line), &s); err != nil {
					t.Fatalf("stored %s: %v", line, err)
				}
				i := int(s.Record["i"].(float64))
				nested, _ := s.Record["nested"].(map[string]any)
				mode, _ := nested["mode"].(string)
				want := time.Unix(1793700000+int64(i/10), int64((i%10)*100000000+7)).UTC().Format(time.RFC3339Nano)
				k := fmt.Sprint(mode, i)
				if seen[k] || s.Tag != "node.app" || s.Timestamp != want || s.Record["msg"] != fmt.Sprintf("node event %d é \"q\"", i) {
					t.Fatalf("event %s stored wrong or twice: %s", k, line)
				}
				seen[k] = true
			}
			if len(seen) != len(c.modes)*n {
				t.Fatalf("stored %d events, want %d", len(seen), len(c.modes)*n)
			}
		})
	}
}
