package clients

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"
	"github.com/ingestd/ingestd/internal/testenv"
)

// journalTool finds one of systemd-journal-remote's programs (Debian's
// package systemd-journal-remote puts them in /usr/lib/systemd).
func journalTool(t *testing.T, name string) string {
	for _, p := range []string{"/usr/lib/systemd/" + name, "/lib/systemd/" + name} {
		if e2e.FileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	testenv.Missing(t, name, "apt-get install systemd-journal-remote")
	return ""
}

// exportEntry is one journal entry in the export format, with a binary
// field (a value holding a newline) and a field given twice.
func exportEntry(i int) []byte {
	var b []byte
	b = fmt.Appendf(b, "__REALTIME_TIMESTAMP=%d\n", int64(1793700000000000)+int64(i)*1234)
	b = fmt.Appendf(b, "__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n", 1000+i)
	b = fmt.Appendf(b, "MESSAGE=request %d served \"ok\" é\nPRIORITY=%d\n_HOSTNAME=web-%d\nSYSLOG_IDENTIFIER=app\n_SYSTEMD_UNIT=app.service\n", i, i%8, i%3)
	v := fmt.Appendf(nil, "stack\ntrace %d", i)
	b = append(b, "DETAIL\n"...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	b = append(b, v...)
	b = append(b, '\n')
	b = fmt.Appendf(b, "TAG=a\nTAG=b%d\n\n", i)
	return b
}

// Debian's systemd-journal-upload, unmodified, uploads a journal file that
// systemd-journal-remote made from export-format input, with the token as
// the password of the URL; every entry is stored once, mapped as
// documented. A wrong token is refused with the 401 journal-upload
// reports.
func TestJournalUpload(t *testing.T) {
	t.Parallel()
	remote, upload := journalTool(t, "systemd-journal-remote"), journalTool(t, "systemd-journal-upload")
	work := t.TempDir()
	const n = 400
	var export []byte
	for i := 0; i < n; i++ {
		export = append(export, exportEntry(i)...)
	}
	if err := os.WriteFile(filepath.Join(work, "export"), export, 0o600); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(work, "app.journal")
	if out, err := exec.Command(remote, "--output="+journal, filepath.Join(work, "export")).CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
	dir := t.TempDir()
	d := e2e.Start(t, dir, "auth:\n  tokens: [{name: journal-upload, token: journal-token-0123456789}]\nreport:\n  schedule: \"off\"\n")
	u, _ := url.Parse(d.URL)
	if out, err := exec.Command(upload, "--follow=no", "--save-state="+filepath.Join(work, "state"), "--file="+journal,
		"--url=http://host:journal-token-0123456789@"+u.Host).CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-upload: %v\n%s", err, out)
	}
	out, err := exec.Command(upload, "--follow=no", "--file="+journal, "--url=http://host:wrong@"+u.Host).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") {
		t.Fatalf("a wrong token: %v\n%s", err, out)
	}
	d.Stop()
	seen := map[int]bool{}
	for _, line := range e2e.AllStored(t, dir) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("stored %s: %v", line, err)
		}
		var i int
		if _, err := fmt.Sscanf(r["MESSAGE"].(string), "request %d", &i); err != nil {
			t.Fatalf("stored %s", line)
		}
		want := time.UnixMicro(int64(1793700000000000) + int64(i)*1234).UTC().Format(time.RFC3339Nano)
		if seen[i] || r["timestamp"] != want || r["PRIORITY"] != fmt.Sprint(i%8) || r["_HOSTNAME"] != fmt.Sprintf("web-%d", i%3) ||
			r["_SYSTEMD_UNIT"] != "app.service" || r["SYSLOG_IDENTIFIER"] != "app" || r["DETAIL"] != fmt.Sprintf("stack\ntrace %d", i) ||
			fmt.Sprint(r["TAG"]) != fmt.Sprintf("[a b%d]", i) || r["__CURSOR"] == nil || r["MESSAGE"] != fmt.Sprintf("request %d served \"ok\" é", i) {
			t.Fatalf("entry %d stored wrong or twice: %s", i, line)
		}
		seen[i] = true
	}
	if len(seen) != n {
		t.Fatalf("stored %d entries, want %d", len(seen), n)
	}
}

// The export format by hand, at /upload and VictoriaLogs' path: a value
// that is not UTF-8 (base64), an entry without a timestamp (the receive
// time), and refusals in plain text that store nothing of their upload.
func TestJournalExportShapes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := e2e.Start(t, dir, "report:\n  schedule: \"off\"\n")
	bin := []byte("BLOB\n")
	bin = binary.LittleEndian.AppendUint64(bin, 2)
	bin = append(bin, 0xff, 0x00, '\n')
	ct := map[string]string{"Content-Type": "application/vnd.fdo.journal"}
	for _, c := range []struct {
		path, body string
		code       int
		want       string
	}{
		{"/upload", "MESSAGE=no time\n" + string(bin) + "\n", 202, "OK."},
		{"/insert/journald/upload", string(exportEntry(7)), 202, "OK."},
		{"/upload", "MESSAGE=ok\n\nmessage=lower case\n\n", 400, "entry 2: bad field name"},
		{"/upload", "MESSAGE=ok\n\nBLOB\n\x05\x00\x00", 400, "entry 2: field BLOB is cut short"},
		{"/upload", "__REALTIME_TIMESTAMP=soon\nMESSAGE=x\n", 400, "is not microseconds"},
		{"/upload", "\n\n", 400, "no journal entries"},
	} {
		r := d.Post(t, c.path, []byte(c.body), ct)
		if r.Code != c.code || !strings.Contains(r.Body, c.want) {
			t.Errorf("%s %q: %d %s, want %d %s", c.path, c.body, r.Code, r.Body, c.code, c.want)
		}
	}
	resp, err := d.Client.Get(d.URL + "/upload")
	if err != nil || resp.StatusCode != 405 {
		t.Fatalf("GET /upload: %v %v", err, resp)
	}
	d.Stop()
	got := e2e.AllStored(t, dir)
	all := strings.Join(got, "\n")
	for _, want := range []string{`"MESSAGE":"no time","BLOB":"/wA="`, `"timestamp":"2026-11-03T10:00:00.008638Z"`} {
		if !strings.Contains(all, want) {
			t.Errorf("stored records lack %s:\n%s", want, all)
		}
	}
	if len(got) != 2 {
		t.Errorf("stored %d records, want 2:\n%s", len(got), all)
	}
}
