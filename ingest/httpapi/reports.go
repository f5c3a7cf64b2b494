package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/es"
	"github.com/ingestd/ingestd/ingest/adapter/native"
)

// ServeReports serves the reports in dir (the scheduler's report.dir) under
// GET /reports/: an index, and each report's page, summary, CSV and Parquet
// files. Only tokens with the role read (or both) see them; without tokens
// configured the daemon listens on loopback only, and anyone there may.
func (h *Server) ServeReports(dir string) { h.reportsDir = dir }

// safeName is a report folder or file name the index lists and the handler
// serves: no path separators, no dot files (a report being written is a
// hidden temporary folder).
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// contentTypes of the files a report holds.
var contentTypes = map[string]string{
	".html":    "text/html; charset=utf-8",
	".json":    "application/json",
	".csv":     "text/csv; charset=utf-8",
	".parquet": "application/vnd.apache.parquet",
	".png":     "image/png",
	".svg":     "image/svg+xml",
}

// reports is GET /reports/[<report>/[<file>]].
func (h *Server) reports(ctx *fasthttp.RequestCtx, _ es.Call) {
	const ep = "/reports"
	if !h.isGet(ctx, ep) {
		return
	}
	if !h.readAccess(ctx, ep, "reports", "ingestd reports") {
		return
	}
	notFound := func(what string) {
		h.reply(ctx, ep, native.Error(&adapter.Error{Status: 404, Message: what}))
	}
	if h.reportsDir == "" {
		notFound("reports are not served by this daemon")
		return
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(string(ctx.Path()), "/reports"), "/")
	if rel == "" {
		h.reportIndex(ctx, ep)
		return
	}
	parts := strings.Split(rel, "/")
	if len(parts) > 2 || !safeName.MatchString(parts[0]) || (len(parts) == 2 && parts[1] != "" && !safeName.MatchString(parts[1])) {
		notFound("no such report")
		return
	}
	if len(parts) == 1 { // the page's relative links need the slash
		ctx.Redirect("/reports/"+parts[0]+"/", fasthttp.StatusFound)
		h.requests.WithLabelValues(ep, "302").Inc()
		return
	}
	name := parts[1]
	if name == "" {
		name = "report.html"
	}
	path := filepath.Join(h.reportsDir, parts[0], name)
	f, err := os.Open(path)
	if err != nil {
		notFound("no such report or file")
		return
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		notFound("no such report or file")
		return
	}
	ct := contentTypes[filepath.Ext(name)]
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx.SetStatusCode(200)
	ctx.SetContentType(ct)
	ctx.Response.Header.Set("Last-Modified", st.ModTime().UTC().Format(time.RFC1123))
	if ctx.IsHead() {
		f.Close()
		ctx.Response.Header.SetContentLength(int(st.Size()))
	} else {
		ctx.SetBodyStream(f, int(st.Size())) // closed by fasthttp once sent
	}
	h.requests.WithLabelValues(ep, "200").Inc()
}

// reportEntry is one stored report in the index.
type reportEntry struct {
	Name    string    `json:"name"`
	Records int64     `json:"records"`
	Days    int       `json:"days"`
	Written time.Time `json:"written"`
	Files   []string  `json:"files"`
}

// listReports reads the reports in dir, newest name first.
func listReports(dir string) ([]reportEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []reportEntry
	for _, e := range ents {
		if !e.IsDir() || !safeName.MatchString(e.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		r := reportEntry{Name: e.Name()}
		for _, f := range files {
			if f.Type().IsRegular() && safeName.MatchString(f.Name()) {
				r.Files = append(r.Files, f.Name())
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name(), "summary.json")); err == nil {
			var s struct {
				Records   int64     `json:"records"`
				Generated time.Time `json:"generated"`
				Days      []struct {
					Records int64 `json:"records"`
				} `json:"days"`
			}
			if json.Unmarshal(b, &s) == nil {
				r.Records, r.Written = s.Records, s.Generated
				for _, d := range s.Days {
					if d.Records > 0 {
						r.Days++
					}
				}
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name })
	return out, nil
}

// reportIndex lists the stored reports: HTML, or JSON when the client
// asks for it (Accept: application/json, or ?format=json).
func (h *Server) reportIndex(ctx *fasthttp.RequestCtx, ep string) {
	list, err := listReports(h.reportsDir)
	if err != nil {
		h.log.Error("reports: list", "err", err)
		h.reply(ctx, ep, native.Error(&adapter.Error{Status: 500, Message: "cannot list the reports"}))
		return
	}
	if string(ctx.QueryArgs().Peek("format")) == "json" || strings.Contains(string(ctx.Request.Header.Peek("Accept")), "application/json") {
		if list == nil {
			list = []reportEntry{}
		}
		b, _ := json.Marshal(map[string]any{"reports": list})
		h.reply(ctx, ep, adapter.Reply{Status: 200, ContentType: "application/json", Body: b})
		return
	}
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ingestd reports</title>
<style>body{font:15px system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.45em .8em;border-bottom:1px solid #ddd}
th{background:#f4f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}a{color:#1a56b0}
.files a{margin-right:.8em;font-size:90%}</style></head><body><h1>Reports</h1>
`)
	if len(list) == 0 {
		b.WriteString(`<p>No report yet. The scheduler writes one after each month (report.schedule), or run <code>ingestd report --month YYYY-MM</code>.</p>`)
	} else {
		b.WriteString(`<table><tr><th>report</th><th>records</th><th>days with data</th><th>written (UTC)</th><th>files</th></tr>` + "\n")
		for _, r := range list {
			n := html.EscapeString(r.Name)
			written := ""
			if !r.Written.IsZero() {
				written = r.Written.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(&b, `<tr><td><a href="%s/">%s</a></td><td class="n">%s</td><td class="n">%d</td><td>%s</td><td class="files">`,
				n, n, groupDigits(r.Records), r.Days, written)
			for _, f := range r.Files {
				fmt.Fprintf(&b, `<a href="%s/%s">%s</a>`, n, html.EscapeString(f), html.EscapeString(f))
			}
			b.WriteString("</td></tr>\n")
		}
		b.WriteString("</table>")
	}
	b.WriteString("</body></html>\n")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	h.reply(ctx, ep, adapter.Reply{Status: 200, ContentType: "text/html; charset=utf-8", Body: []byte(b.String())})
}

// groupDigits writes n with thin spaces between thousands.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "\u202f" + s[i:]
	}
	return s
}
