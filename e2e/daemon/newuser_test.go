package daemon

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// What a new user plausibly does wrong gets an answer that says what to do,
// and every limit a message names is named with its setting.
func TestErrorsTellTheUserWhatToDo(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	d := e2e.Start(t, data, "report:\n  schedule: \"off\"\n")

	t.Run("curl -d strips newlines", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			testenv.Missing(t, "curl", "apt-get install curl")
		}
		f := filepath.Join(t.TempDir(), "two.ndjson")
		os.WriteFile(f, []byte("{\"ts\":\"2026-11-03T10:00:00Z\",\"n\":1}\n{\"ts\":\"2026-11-03T10:00:01Z\",\"n\":2}\n"), 0o600)
		out, err := exec.Command("curl", "-s", "-d", "@"+f, d.URL+"/v1/ingest").Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "curl -d removes newlines") || !strings.Contains(string(out), "--data-binary") {
			t.Errorf("curl -d of an NDJSON file: %s, want the --data-binary hint", out)
		}
		out, _ = exec.Command("curl", "-s", "--data-binary", "@"+f, d.URL+"/v1/ingest").Output()
		if string(out) != `{"accepted":2}` {
			t.Errorf("--data-binary: %s", out)
		}
	})

	t.Run("a 50 MB line names its limit", func(t *testing.T) {
		line := append([]byte(`{"ts":"2026-11-03T10:00:00Z","big":"`), bytes.Repeat([]byte("x"), 50<<20)...)
		line = append(line, "\"}\n"...)
		r := d.Post(t, "/v1/ingest", line, nil)
		if r.Code != 413 && r.Code != 400 || !strings.Contains(r.Body, "records.max_record") || !strings.Contains(r.Body, "4194304 bytes") {
			t.Errorf("50 MB line: %d %s", r.Code, r.Body)
		}
		r = d.Post(t, "/v1/ingest", append(append([]byte(`{"ts":"2026-11-03T10:00:00Z","big":"`), bytes.Repeat([]byte("x"), 5<<20)...), "\"}"...), nil)
		if !strings.Contains(r.Body, "records.max_record") {
			t.Errorf("5 MB record: %d %s", r.Code, r.Body)
		}
	})

	t.Run("size and depth limits name their setting", func(t *testing.T) {
		for _, c := range []struct {
			body, want string
			hdr        map[string]string
		}{
			{`{"ts":1,"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "(records.max_depth)", nil},
			{strings.Repeat(" ", 65<<20), "(http.max_body)", nil},
		} {
			if r := d.Post(t, "/v1/ingest", []byte(c.body), c.hdr); !strings.Contains(r.Body, c.want) {
				t.Errorf("%.40s…: %d %s, want it to name %s", c.body, r.Code, r.Body, c.want)
			}
		}
	})

	t.Run("out-of-range timestamps say the range", func(t *testing.T) {
		r := d.Post(t, "/v1/ingest", []byte(`{"ts":"3000-01-01T00:00:00Z"}`), nil)
		if r.Code != 400 || !strings.Contains(r.Body, "1677-09-21") || !strings.Contains(r.Body, "2262-04-11") {
			t.Errorf("year 3000: %d %s", r.Code, r.Body)
		}
		future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		r = d.Post(t, "/v1/ingest", []byte(`{"ts":"`+future+`"}`), nil)
		if r.Code != 400 || !strings.Contains(r.Body, "records.max_future") {
			t.Errorf("two days ahead: %d %s", r.Code, r.Body)
		}
	})

	t.Run("a null timestamp is no timestamp", func(t *testing.T) {
		for _, in := range []string{
			`{"ts":null,"msg":"a"}`,
			`{"timestamp":null,"msg":"b"}`,
			`{"timestamp":null,"ts":"2026-11-03T10:00:00Z","msg":"c"}`,
		} {
			if r := d.Post(t, "/v1/ingest", []byte(in), nil); r.Code != 200 {
				t.Errorf("%s: %d %s", in, r.Code, r.Body)
			}
		}
		d.Stop()
		var got []string
		for _, lines := range e2e.Stored(t, data) {
			for _, l := range lines {
				if strings.Contains(l, `"msg":"`) {
					got = append(got, l)
				}
			}
		}
		for _, c := range []struct{ prefix, suffix string }{
			{`{"ts":null,"msg":"a","timestamp":"`, `Z"}`},
			{`{"timestamp":"`, `Z","msg":"b"}`},
			{`{"timestamp":null,"ts":"2026-11-03T10:00:00Z","msg":"c"}`, ``},
		} {
			n := 0
			for _, l := range got {
				if strings.HasPrefix(l, c.prefix) && strings.HasSuffix(l, c.suffix) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("want one record %s…%s, stored %q", c.prefix, c.suffix, got)
			}
		}
	})
}

// A body over http.max_body gets its JSON 413 also from a client that sends
// no Expect: 100-continue and is still writing when the answer comes (Go's
// net/http): the daemon answers, half-closes, and reads on, instead of
// resetting the connection under the client's write.
func TestOverLimitBodyAnsweredToAStreamingClient(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	d := e2e.Start(t, data, "http:\n  max_body: 16MiB\nreport:\n  schedule: \"off\"\n")
	big := bytes.Repeat([]byte(`{"ts":"2026-11-03T10:00:00Z","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`+"\n"), 25<<20/70) // ≈ 25 MB
	for _, c := range []struct {
		name string
		body func() io.Reader
	}{
		{"declared length", func() io.Reader { return bytes.NewReader(big) }},
		{"chunked", func() io.Reader { return struct{ io.Reader }{bytes.NewReader(big)} }},
	} {
		for i := 0; i < 3; i++ {
			req, _ := http.NewRequest("POST", d.URL+"/v1/ingest", c.body())
			resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
			if err != nil {
				t.Fatalf("%s, try %d: %v (the client never read the answer)", c.name, i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 413 || !strings.Contains(string(b), `"error":"request body over the limit of 16777216 bytes`) {
				t.Fatalf("%s: %d %s", c.name, resp.StatusCode, b)
			}
		}
	}
	if r := d.Post(t, "/v1/ingest", []byte(`{"ts":"2026-11-03T10:00:00Z"}`), nil); r.Code != 200 {
		t.Fatalf("a small request after them: %d %s", r.Code, r.Body)
	}
}
