package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeCmd is one shell command of a README example, with the output its
// "# → " lines promise ("…" stands for any text, newlines included): its
// stdout, or its stderr when stdout is empty.
type readmeCmd struct {
	line int
	text string
	want []string
}

// readmeBlock is one ```sh block of the README.
type readmeBlock struct {
	line int
	cmds []readmeCmd
}

// readmeBlocks parses the README's sh blocks into commands. A line ending in
// | \ or && continues on the next one; "# → " lines are the output of the
// command before them; other comments are skipped.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		indent string
		open   bool // the last command continues on the next line
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		trim := strings.TrimSpace(l)
		if cur == nil {
			if trim == "```sh" {
				blocks = append(blocks, readmeBlock{line: n})
				cur, indent, open = &blocks[len(blocks)-1], l[:strings.Index(l, "```")], false
			}
			continue
		}
		if trim == "```" {
			cur = nil
			continue
		}
		l = strings.TrimPrefix(l, indent)
		switch {
		case strings.HasPrefix(l, "# → "):
			if len(cur.cmds) == 0 {
				t.Fatalf("README.md:%d: output line before any command", n)
			}
			c := &cur.cmds[len(cur.cmds)-1]
			c.want = append(c.want, strings.TrimPrefix(l, "# → "))
		case strings.HasPrefix(l, "#"), trim == "":
		case open:
			c := &cur.cmds[len(cur.cmds)-1]
			c.text += "\n" + l
		default:
			cur.cmds = append(cur.cmds, readmeCmd{line: n, text: l})
		}
		if trim != "" && !strings.HasPrefix(l, "#") {
			code := strings.TrimSpace(strings.SplitN(l, " #", 2)[0])
			open = strings.HasSuffix(code, "|") || strings.HasSuffix(code, `\`) || strings.HasSuffix(code, "&&")
		}
	}
	return blocks
}

// matches reports whether out is what the "# → " lines promise.
func (c readmeCmd) matches(out string) bool {
	parts := strings.Split(strings.Join(c.want, "\n"), "…")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `(?s:.*)`) + `$`).MatchString(strings.TrimRight(out, "\n"))
}

// TestREADMEExamples runs the README's shell examples as written, in order,
// against a real daemon, and checks every "# → " output line, so that the
// README cannot go stale. What differs from a reader's run:
//   - the daemon listens on a free port, so localhost:8080 and 127.0.0.1:8080
//     are replaced by its address, and the load example's serve and
//     ingest-bench get --listen/--url for it;
//   - the load example runs for 2 s instead of 30 s;
//   - "go run ./cmd/ingestd" and "go build ./cmd/ingestd" use the binary
//     TestMain built from this tree; "go build ./cmd/ingest-bench" builds it;
//   - without a duckdb CLI, "duckdb -noheader -list -c SQL" runs the query
//     through DuckDB's Node.js API (.ci/duckdb), or is skipped without either;
//   - records reach their part within 100 ms and past days seal 200 ms after
//     their last record (block_age 10 s, seal_idle 1 min by default), so that the
//     "Read the files" example finds sealed files without waiting.
func TestREADMEExamples(t *testing.T) {
	for _, tool := range []string{"curl", "gzip", "zstd", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed; the README examples use it (apt-get install %s)", tool, tool)
		}
	}
	blocks := readmeBlocks(t)
	bin := t.TempDir()
	duckdbOK := true
	if _, err := exec.LookPath("duckdb"); err != nil {
		_, nodeErr := exec.LookPath("node")
		_, modErr := os.Stat(filepath.Join(repoRoot(), ".ci", "duckdb", "node_modules", "@duckdb", "node-api"))
		if nodeErr != nil || modErr != nil {
			duckdbOK = false
		} else {
			shim := "#!/bin/sh\n# the README's duckdb -noheader -list -c SQL, through DuckDB's Node.js API\n" +
				`[ "$1 $2 $3" = "-noheader -list -c" ] || { echo "duckdb shim: only -noheader -list -c SQL" >&2; exit 2; }` + "\n" +
				`exec node "` + filepath.Join(repoRoot(), ".ci", "duckdb", "query.mjs") + `" "$4" --list` + "\n"
			if err := os.WriteFile(filepath.Join(bin, "duckdb"), []byte(shim), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}

	work := t.TempDir()
	d := startDaemon(t, filepath.Join(work, "data"), "segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 200ms\n")
	addr := strings.TrimPrefix(d.url, "http://")
	ran := 0
	for _, b := range blocks {
		all := ""
		for _, c := range b.cmds {
			all += c.text + "\n"
		}
		switch {
		case strings.Contains(all, "go test"):
			continue // the set-up block: every test here runs its first command
		case strings.Contains(all, "ingest-bench"):
			loadAddr := freeAddr(t)
			for i := range b.cmds {
				b.cmds[i].text = strings.NewReplacer(
					"./ingestd serve &", "./ingestd serve --listen "+loadAddr+" &",
					"./ingest-bench --duration 30s", "./ingest-bench --url http://"+loadAddr+" --duration 2s --warmup 1s",
				).Replace(b.cmds[i].text)
			}
			runReadmeBlock(t, b, t.TempDir(), bin, addr, duckdbOK)
		default:
			if strings.Contains(all, "zstdcat") {
				waitFor(t, "a sealed part of 2026-11-03", func() bool {
					m, _ := filepath.Glob(filepath.Join(work, "data", "segments", "dt=2026-11-03", "*.ndjson.zst"))
					return len(m) > 0
				})
			}
			if strings.Contains(all, "breakdowns.yaml") {
				waitFor(t, "the September records in their parts", func() bool {
					out, _ := exec.Command(binPath, "cat", "--data-dir", filepath.Join(work, "data"), "--from", "2026-09-01", "--to", "2026-09-03").Output()
					return bytes.Count(out, []byte("\n")) == 5
				})
			}
			if strings.Contains(all, "replay-rejected") {
				waitFor(t, "the rejected line on disk", func() bool {
					out, _ := exec.Command(binPath, "replay-rejected", "--data-dir", filepath.Join(work, "data"), "--print").Output()
					return len(out) > 0
				})
			}
			runReadmeBlock(t, b, work, bin, addr, duckdbOK)
		}
		ran++
	}
	if ran < 5 {
		t.Fatalf("ran %d README blocks; the parser lost some", ran)
	}
	// What the examples promise beyond their output.
	for _, f := range []string{"data/reports/2026-11/report.html", "reports/2026-11/records.parquet", "bad.ndjson"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("after the README examples: %v", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(work, "bad.ndjson")); string(b) != "not json\n" {
		t.Errorf("replay-rejected --print wrote %q, want the rejected line", b)
	}
}

// waitFor polls cond for up to 60 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Generous: this is no speed check, only a bound on a hang. Daily
	// partials run in niced child processes, which a busy shared machine
	// can hold back for more than 10 s (CI saw that while other work ran).
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runReadmeBlock runs one block's commands in one bash process in dir (so
// variables such as $pid carry over), each with its output in its own file,
// and checks exit codes and outputs.
func runReadmeBlock(t *testing.T, b readmeBlock, dir, bin, addr string, duckdbOK bool) {
	t.Helper()
	outDir := t.TempDir()
	var script strings.Builder
	script.WriteString(`trap 'kill $(jobs -p) 2>/dev/null' EXIT
set -o pipefail
go() {
  case "$1 $2" in
  "run ./cmd/ingestd") shift 2; "$INGESTD" "$@";;
  "build -o")
    case "$4" in
    ./cmd/ingestd) cp "$INGESTD" "$3";;
    *) command go build -C "$ROOT" -o "$PWD/$3" "$4";;
    esac;;
  *) echo "README test: unexpected go command: go $*" >&2; return 2;;
  esac
}
`)
	var cmds []readmeCmd
	for _, c := range b.cmds {
		if strings.HasPrefix(c.text, "duckdb ") && !duckdbOK {
			t.Logf("README.md:%d skipped: DuckDB not installed (npm install --prefix .ci/duckdb @duckdb/node-api); .ci/run installs it", c.line)
			continue
		}
		text := strings.NewReplacer("localhost:8080", addr, "127.0.0.1:8080", addr).Replace(c.text)
		i := len(cmds)
		cmds = append(cmds, c)
		base := filepath.Join(outDir, fmt.Sprint(i))
		fmt.Fprintf(&script, "{\n%s\n} >%q 2>%q\nrc=$?; echo $rc >%q; [ $rc = 0 ] || exit 1\n",
			text, base+".out", base+".err", base+".rc")
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "INGESTD="+binPath, "ROOT="+repoRoot(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	runErr := cmd.Run()
	for i, c := range cmds {
		base := filepath.Join(outDir, fmt.Sprint(i))
		out, _ := os.ReadFile(base + ".out")
		stderr, _ := os.ReadFile(base + ".err")
		rc, err := os.ReadFile(base + ".rc")
		if err != nil {
			t.Fatalf("README.md:%d did not run (block of line %d stopped: %v)", c.line, b.line, runErr)
		}
		if strings.TrimSpace(string(rc)) != "0" {
			t.Fatalf("README.md:%d exited %s:\n%s\n%s%s", c.line, strings.TrimSpace(string(rc)), c.text, out, stderr)
		}
		// The promised output is stdout's, or stderr's for a command that
		// prints only there (such as a summary while stdout goes to a file).
		shown := out
		if len(out) == 0 {
			shown = stderr
		}
		if len(c.want) > 0 && !c.matches(string(shown)) {
			t.Errorf("README.md:%d prints\n%s\n(stderr: %s)\nthe README says\n%s", c.line, out, stderr, strings.Join(c.want, "\n"))
		}
	}
}
