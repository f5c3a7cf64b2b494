package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ingestd/ingestd/ingest"
)

func runReplayRejected(args []string) int {
	fs := newFlagSet("replay-rejected", "replay-rejected [--data-dir DIR] (--print | --url URL [--token T]) [--remove]")
	var cf commonFlags
	cf.register(fs)
	print := fs.Bool("print", false, "print the rejected lines as they were sent, one a line (fix them, then POST them)")
	list := fs.Bool("list", false, "print each rejected line's time, producer, reason and error as JSON")
	url := fs.String("url", "", "POST the lines to this ingestd (`http://host:port`) with ?invalid=skip; lines still bad are rejected (and kept) again")
	token := fs.String("token", "", "bearer `token` for --url")
	remove := fs.Bool("remove", false, "after a successful --url replay, delete the files replayed (not one written in the last 5 s)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if (*print && *url != "") || (!*print && !*list && *url == "") {
		fmt.Fprintln(os.Stderr, "ingestd replay-rejected: give one of --print, --list or --url")
		return 2
	}
	cfg, err := cf.load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd replay-rejected:", err)
		return 2
	}
	dir := ingest.RejectedDir(cfg.DataDir)
	files, _ := filepath.Glob(filepath.Join(dir, "rejected-*.ndjson.zst"))
	sort.Strings(files)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var batch bytes.Buffer
	var lines, truncated, accepted, rejected int
	post := func() error {
		if batch.Len() == 0 {
			return nil
		}
		acc, rej, err := postLines(*url, *token, batch.Bytes())
		accepted += acc
		rejected += rej
		batch.Reset()
		return err
	}
	var done []string
	for _, f := range files {
		complete, err := ingest.ReadRejected(f, func(r ingest.RejectedLine, raw []byte) error {
			lines++
			if r.Truncated {
				truncated++ // cut when kept: replaying it would store a wrong record
				return nil
			}
			switch {
			case *list:
				b, _ := json.Marshal(r)
				out.Write(append(b, '\n'))
			case *print:
				out.Write(append(raw, '\n'))
			default:
				batch.Write(raw)
				batch.WriteByte('\n')
				if batch.Len() >= 4<<20 {
					return post()
				}
			}
			return nil
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "ingestd replay-rejected: %s: %v\n", f, err)
			return 1
		}
		if st, err := os.Stat(f); complete && err == nil && time.Since(st.ModTime()) > 5*time.Second {
			done = append(done, f)
		}
	}
	if *url != "" {
		if err := post(); err != nil {
			fmt.Fprintln(os.Stderr, "ingestd replay-rejected:", err)
			return 1
		}
		if *remove {
			for _, f := range done {
				os.Remove(f)
			}
		}
	}
	out.Flush()
	fmt.Fprintf(os.Stderr, "%d rejected %s in %d %s", lines, plural(lines, "line", "lines"), len(files), plural(len(files), "file", "files"))
	if truncated > 0 {
		fmt.Fprintf(os.Stderr, ", %d skipped because they were kept truncated", truncated)
	}
	if *url != "" {
		fmt.Fprintf(os.Stderr, "; replayed: %d accepted, %d rejected again", accepted, rejected)
		if *remove {
			fmt.Fprintf(os.Stderr, "; %d %s removed", len(done), plural(len(done), "file", "files"))
		}
	}
	fmt.Fprintln(os.Stderr)
	return 0
}

// rejectedByReason counts the kept rejected lines received in [from, to), by
// reason. A file still being written counts as far as it is readable.
func rejectedByReason(dataDir string, from, to time.Time) (map[string]int64, error) {
	files, _ := filepath.Glob(filepath.Join(ingest.RejectedDir(dataDir), "rejected-*.ndjson.zst"))
	counts := map[string]int64{}
	for _, f := range files {
		_, err := ingest.ReadRejected(f, func(r ingest.RejectedLine, _ []byte) error {
			if t, err := time.Parse(time.RFC3339Nano, r.Time); err == nil && !t.Before(from) && t.Before(to) {
				counts[r.Reason]++
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // replay-rejected --remove may delete one meanwhile
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return counts, nil
}

func postLines(url, token string, body []byte) (accepted, rejected int, err error) {
	req, err := http.NewRequest("POST", strings.TrimSuffix(url, "/")+"/v1/ingest?invalid=skip", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, 0, fmt.Errorf("POST: %s: %s (files kept)", resp.Status, bytes.TrimSpace(b))
	}
	var r struct{ Accepted, Rejected int }
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, 0, fmt.Errorf("POST: answer %q: %w", b, err)
	}
	return r.Accepted, r.Rejected, nil
}
