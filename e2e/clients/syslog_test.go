package clients

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// syslogAddrs starts a daemon with both syslog listeners on free ports and
// returns it with the TCP and UDP addresses from its log.
func syslogDaemon(t *testing.T, dir, extra string) (d *e2e.Daemon, tcp, udp string) {
	t.Helper()
	d = e2e.Start(t, dir, "syslog:\n  listen_tcp: 127.0.0.1:0\n  listen_udp: 127.0.0.1:0\n"+extra+"report:\n  schedule: \"off\"\n")
	tcp = listenerAddr(t, d, `msg="listening for syslog" transport=tcp addr=(\S+)`)
	udp = listenerAddr(t, d, `msg="listening for syslog" transport=udp addr=(\S+)`)
	return d, tcp, udp
}

// listenerAddr waits for the log line of a listener that opens after
// recovery (re has the address as its group) and returns the address.
func listenerAddr(t *testing.T, d *e2e.Daemon, re string) string {
	t.Helper()
	var m []string
	e2e.WaitFor(t, "the log line "+re, func() bool {
		m = regexp.MustCompile(re).FindStringSubmatch(d.Log.String())
		return m != nil
	})
	return m[1]
}

type syslogStored struct {
	Timestamp      string                       `json:"timestamp"`
	Hostname       string                       `json:"hostname"`
	AppName        string                       `json:"app_name"`
	ProcID         string                       `json:"proc_id"`
	MsgID          string                       `json:"msg_id"`
	Facility       *int                         `json:"facility"`
	Severity       *int                         `json:"severity"`
	StructuredData map[string]map[string]string `json:"structured_data"`
	Message        string                       `json:"message"`
	RemoteAddr     string                       `json:"remote_addr"`
}

// util-linux logger, unmodified, sends RFC 5424 and RFC 3164 over TCP (with
// newline and octet-counting framing) and UDP; every message is stored once
// with its fields.
func TestSyslogFromLogger(t *testing.T) {
	t.Parallel()
	loggerBin, err := exec.LookPath("logger")
	if err != nil {
		testenv.Missing(t, "logger (util-linux)", "apt-get install bsdutils")
	}
	dir := t.TempDir()
	d, tcp, udp := syslogDaemon(t, dir, "")
	send := func(addr string, args ...string) {
		t.Helper()
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(loggerBin, append([]string{"-n", host, "-P", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("logger %v: %v\n%s", args, err, out)
		}
	}
	type sent struct {
		id, format, transport string
	}
	var all []sent
	for i := 0; i < 5; i++ {
		for _, c := range []struct{ transport, addr, format string }{
			{"tcp", tcp, "--rfc5424"}, {"tcp", tcp, "--rfc3164"}, {"udp", udp, "--rfc5424"}, {"udp", udp, "--rfc3164"},
		} {
			id := fmt.Sprintf("%s-%s-%d", c.transport, strings.TrimPrefix(c.format, "--"), i)
			args := []string{"--" + c.transport, c.format, "-t", "ingest-app", "-p", "local3.warning", "--id=4242"}
			if c.format == "--rfc5424" {
				args = append(args, "--sd-id", "origin@32473", "--sd-param", `sw="ingestd test"`, "--msgid", "MSG7")
			}
			if c.transport == "tcp" && i%2 == 1 {
				args = append(args, "--octet-count")
			}
			send(c.addr, append(args, "hello é "+id)...)
			all = append(all, sent{id, c.format, c.transport})
		}
	}
	// UDP is best effort: wait until its datagrams are in, then stop.
	time.Sleep(300 * time.Millisecond)
	d.Stop()
	got := map[string]syslogStored{}
	for _, line := range e2e.AllStored(t, dir) {
		var s syslogStored
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		id := strings.TrimPrefix(s.Message, "hello é ")
		if _, dup := got[id]; dup {
			t.Fatalf("%s stored twice", id)
		}
		got[id] = s
	}
	now := time.Now().UTC()
	for _, m := range all {
		s, ok := got[m.id]
		if !ok {
			t.Errorf("%s not stored (%d stored)", m.id, len(got))
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, s.Timestamp)
		if err != nil || ts.Sub(now) > time.Minute || now.Sub(ts) > 10*time.Minute {
			t.Errorf("%s: timestamp %q, want about now", m.id, s.Timestamp)
		}
		if s.AppName != "ingest-app" || s.ProcID != "4242" || s.Facility == nil || *s.Facility != 19 || s.Severity == nil || *s.Severity != 4 ||
			s.Hostname == "" || !strings.HasPrefix(s.RemoteAddr, "127.0.0.1:") {
			t.Errorf("%s: %+v", m.id, s)
		}
		if m.format == "--rfc5424" && (s.MsgID != "MSG7" || s.StructuredData["origin@32473"]["sw"] != "ingestd test") {
			t.Errorf("%s: msgid %q sd %v", m.id, s.MsgID, s.StructuredData)
		}
	}
}

// A TCP message over syslog.max_message closes its connection and stores
// nothing of it; messages before it on the connection are stored; a
// connection that does not start with a frame is closed and counted.
func TestSyslogLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, tcp, _ := syslogDaemon(t, dir, "  max_message: 1KiB\n")
	c, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "<14>1 2026-11-03T10:00:00Z host app - - - before the long one\n")
	time.Sleep(100 * time.Millisecond)
	fmt.Fprintf(c, "<14>1 2026-11-03T10:00:01Z host app - - - %s\n", strings.Repeat("x", 4096))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection stayed open after an over-long message")
	}
	c.Close()
	c, _ = net.Dial("tcp", tcp)
	fmt.Fprintf(c, "this is not syslog\n<14>1 2026-11-03T10:00:02Z host app - - - lost with its connection\n")
	c.Close()
	c, _ = net.Dial("tcp", tcp)
	fmt.Fprintf(c, "<14>1 2026-11-03T10:00:02Z host app - - - after\n")
	c.Close()
	time.Sleep(200 * time.Millisecond)
	resp, err := d.Client.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	b := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(b)
		m.Write(b[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	d.Stop()
	var msgs []string
	for _, l := range e2e.AllStored(t, dir) {
		var s syslogStored
		json.Unmarshal([]byte(l), &s)
		msgs = append(msgs, s.Message)
	}
	if strings.Join(msgs, "|") != "before the long one|after" && strings.Join(msgs, "|") != "after|before the long one" {
		t.Fatalf("stored %q", msgs)
	}
	for _, want := range []string{`ingestd_syslog_dropped_total{reason="too_large",transport="tcp"} 1`, `ingestd_syslog_invalid_total{transport="tcp"} 1`} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// rsyslog, unmodified, tails a file (imfile) and forwards it with omfwd over
// TCP (RFC 5424, octet-counted framing); every line is stored once.
func TestSyslogFromRsyslog(t *testing.T) {
	t.Parallel()
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		testenv.Missing(t, "rsyslogd", "apt-get install rsyslog")
	}
	dir := t.TempDir()
	d, tcp, _ := syslogDaemon(t, dir, "")
	host, port, _ := net.SplitHostPort(tcp)
	rsyslogForward(t, d, rsyslogd, "rsyslog line", "tcp", fmt.Sprintf("target=%q port=%q", host, port), "")
	d.Stop()
	checkRsyslogStored(t, dir, "rsyslog line", func(s syslogStored) bool {
		return s.AppName == "tailed-app" && s.Facility != nil && *s.Facility == 20 && s.Severity != nil && *s.Severity == 5
	})
}

// rsyslogN is the lines rsyslog forwards in a test.
const rsyslogN = 200

// rsyslogForward runs rsyslogd, unmodified: imfile tails a file of
// rsyslogN lines starting with prefix, omfwd forwards them octet-counted
// in RFC 5424 (to is omfwd's target and port, extra more of its
// parameters; global more global() parameters), until the daemon counts
// them under transport.
func rsyslogForward(t *testing.T, d *e2e.Daemon, rsyslogd, prefix, transport, to, global string) {
	t.Helper()
	work := t.TempDir()
	logFile := filepath.Join(work, "app.log")
	var lines strings.Builder
	for i := 0; i < rsyslogN; i++ {
		fmt.Fprintf(&lines, "%s %d with \"quotes\" and é\n", prefix, i)
	}
	if err := os.WriteFile(logFile, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(work, "rsyslog.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory=%q %s)
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File=%q Tag="tailed-app" Facility="local4" Severity="notice")
action(type="omfwd" %s protocol="tcp" template="RSYSLOG_SyslogProtocol23Format" TCP_Framing="octet-counted")
`, work, global, logFile, to)), 0o600)
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(work, "rsyslogd.pid"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	series := fmt.Sprintf(`ingestd_syslog_messages_total{transport=%q}`, transport)
	for deadline := time.Now().Add(30 * time.Second); e2e.Scrape(t, d)[series] != rsyslogN; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog's messages did not all arrive over %s; rsyslogd said: %s", transport, out.String())
		}
	}
}

// checkRsyslogStored requires each of rsyslogForward's lines stored once,
// with the fields ok checks.
func checkRsyslogStored(t *testing.T, dir, prefix string, ok func(syslogStored) bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range e2e.AllStored(t, dir) {
		var s syslogStored
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatal(err)
		}
		if seen[s.Message] || !strings.HasPrefix(s.Message, prefix+" ") || !ok(s) {
			t.Fatalf("stored %s", l)
		}
		seen[s.Message] = true
	}
	if len(seen) != rsyslogN {
		t.Fatalf("stored %d lines, want %d", len(seen), rsyslogN)
	}
}
