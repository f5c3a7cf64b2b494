package daemon

import (
	"bufio"
	"fmt"
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

// readmeCmd is one shell command of a README example, with the output its
// "# → " lines promise ("…" stands for any text, newlines included): its
// stdout, or its stderr when stdout is empty.
type readmeCmd struct {
	file string // README.md or a doc under docs/
	line int
	text string
	want []string
}

// readmeBlock is one ```sh block of the README or of a doc it sends the
// reader to.
type readmeBlock struct {
	file string
	line int
	cmds []readmeCmd
}

// exampleDocs are the documents whose examples run in order, as a reader
// goes from the README to the docs it links: the later ones read what the
// README's examples posted.
var exampleDocs = []string{"README.md", "docs/REPORTS.md"}

// readmeBlocks parses the sh blocks of every example doc, in order.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	var all []readmeBlock
	for _, f := range exampleDocs {
		all = append(all, docBlocks(t, f)...)
	}
	return all
}

// docBlocks parses one document's sh blocks into commands. A line ending in
// | \ or && continues on the next one; "# → " lines are the output of the
// command before them; other comments are skipped.
func docBlocks(t *testing.T, name string) []readmeBlock {
	t.Helper()
	f, err := os.Open(filepath.Join(e2e.RepoRoot(), name))
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
				blocks = append(blocks, readmeBlock{file: name, line: n})
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
				t.Fatalf("%s:%d: output line before any command", name, n)
			}
			c := &cur.cmds[len(cur.cmds)-1]
			c.want = append(c.want, strings.TrimPrefix(l, "# → "))
		case strings.HasPrefix(l, "#"), trim == "":
		case open:
			c := &cur.cmds[len(cur.cmds)-1]
			c.text += "\n" + l
		default:
			cur.cmds = append(cur.cmds, readmeCmd{file: name, line: n, text: l})
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
	t.Parallel()
	for _, tool := range []string{"curl", "gzip", "zstd", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool, "apt-get install "+tool+"; the README examples use it")
		}
	}
	blocks := readmeBlocks(t)
	bin := t.TempDir()
	duckdbOK := true
	if _, err := exec.LookPath("duckdb"); err != nil {
		_, nodeErr := exec.LookPath("node")
		_, modErr := os.Stat(filepath.Join(e2e.RepoRoot(), ".ci", "duckdb", "node_modules", "@duckdb", "node-api"))
		if nodeErr != nil || modErr != nil {
			duckdbOK = false
		} else {
			shim := "#!/bin/sh\n# the README's duckdb -noheader -list -c SQL, through DuckDB's Node.js API\n" +
				`[ "$1 $2 $3" = "-noheader -list -c" ] || { echo "duckdb shim: only -noheader -list -c SQL" >&2; exit 2; }` + "\n" +
				`exec node "` + filepath.Join(e2e.RepoRoot(), ".ci", "duckdb", "query.mjs") + `" "$4" --list` + "\n"
			if err := os.WriteFile(filepath.Join(bin, "duckdb"), []byte(shim), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}

	work := t.TempDir()
	d := e2e.Start(t, filepath.Join(work, "data"), "segments:\n  block_age: 100ms\n  seal_grace: 0s\n  seal_idle: 200ms\n")
	addr := strings.TrimPrefix(d.URL, "http://")
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
			// In the same folder as every other example, after them: the
			// load's own data dir keeps their records out of its check.
			loadAddr := e2e.FreeAddr(t)
			for i := range b.cmds {
				b.cmds[i].text = strings.NewReplacer(
					"127.0.0.1:8081", loadAddr,
					"--duration 30s", "--duration 2s --warmup 1s",
				).Replace(b.cmds[i].text)
			}
			runReadmeBlock(t, b, work, bin, addr, duckdbOK)
		default:
			// The examples that read files right after posting wait for
			// them themselves (an until loop in the README), as a reader
			// running them at once must.
			if strings.Contains(all, "replay-rejected") {
				// A reader gets here long after posting the bad line: its
				// file is over the 5 s that --remove waits for.
				e2e.WaitFor(t, "the rejected line on disk, 5 s old", func() bool {
					out, _ := exec.Command(e2e.Bin, "replay-rejected", "--data-dir", filepath.Join(work, "data"), "--print").Output()
					m, _ := filepath.Glob(filepath.Join(work, "data", "rejected", "*"))
					for _, f := range m {
						if st, err := os.Stat(f); err != nil || time.Since(st.ModTime()) < 6*time.Second {
							return false
						}
					}
					return len(out) > 0 && len(m) > 0
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
	// Run in a clone, the examples leave nothing that git would offer to
	// commit: every file they write is under data/ or in .gitignore.
	if _, err := exec.LookPath("git"); err == nil {
		ign, err := os.ReadFile(filepath.Join(e2e.RepoRoot(), ".gitignore"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(work, ".gitignore"), ign, 0o644)
		out, err := exec.Command("git", "-C", work, "init", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("git init: %v %s", err, out)
		}
		out, err = exec.Command("git", "-C", work, "status", "--porcelain", "--untracked-files=all").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && l != "?? .gitignore" {
				t.Errorf("the README examples leave %s in the repository (not in .gitignore)", strings.TrimPrefix(l, "?? "))
			}
		}
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
			if testenv.Required() {
				testenv.Missing(t, "DuckDB (its CLI, or its Node.js API in .ci/duckdb)", "npm install --prefix .ci/duckdb @duckdb/node-api")
			}
			t.Logf("%s:%d skipped: DuckDB not installed (npm install --prefix .ci/duckdb @duckdb/node-api); .ci/run installs it", c.file, c.line)
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
	cmd.Env = append(os.Environ(), "INGESTD="+e2e.Bin, "ROOT="+e2e.RepoRoot(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	runErr := cmd.Run()
	for i, c := range cmds {
		base := filepath.Join(outDir, fmt.Sprint(i))
		out, _ := os.ReadFile(base + ".out")
		stderr, _ := os.ReadFile(base + ".err")
		rc, err := os.ReadFile(base + ".rc")
		if err != nil {
			t.Fatalf("%s:%d did not run (block of line %d stopped: %v)", c.file, c.line, b.line, runErr)
		}
		if strings.TrimSpace(string(rc)) != "0" {
			t.Fatalf("%s:%d exited %s:\n%s\n%s%s", c.file, c.line, strings.TrimSpace(string(rc)), c.text, out, stderr)
		}
		// The promised output is stdout's, or stderr's for a command that
		// prints only there (such as a summary while stdout goes to a file).
		shown := out
		if len(out) == 0 {
			shown = stderr
		}
		if len(c.want) > 0 && !c.matches(string(shown)) {
			t.Errorf("%s:%d prints\n%s\n(stderr: %s)\nit says\n%s", c.file, c.line, out, stderr, strings.Join(c.want, "\n"))
		}
	}
}

// Every program the README's examples run is part of a base system (or is
// ingestd itself), or the README says where it comes from: a paragraph that
// names it in backquotes also says how to install it. A reader following
// the README on a fresh machine is never left with "command not found".
func TestREADMEToolsHaveAnOrigin(t *testing.T) {
	t.Parallel()
	base := map[string]bool{ // shell words, builtins, coreutils and grep
		"printf": true, "echo": true, "cat": true, "head": true, "wc": true, "kill": true, "wait": true,
		"until": true, "do": true, "done": true, "sleep": true, "ls": true, "grep": true, "[": true,
		"go": true, "./ingestd": true, "./ingest-bench": true, "}": true, "{": true,
	}
	var paragraphs []string
	for _, f := range exampleDocs {
		b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		paragraphs = append(paragraphs, strings.Split(string(b), "\n\n")...)
	}
	install := regexp.MustCompile(`apt-get install|npm install|go install|curl https://install`)
	split := regexp.MustCompile(`\||&&|;|\$\(|\bdo\b`)
	tools := map[string]string{} // the first place each runs
	for _, b := range readmeBlocks(t) {
		for _, c := range b.cmds {
			code := c.text
			if i := strings.Index(code, " # "); i >= 0 {
				code = code[:i]
			}
			for _, stage := range split.Split(code, -1) {
				f := strings.Fields(stage)
				for len(f) > 0 && (strings.Contains(f[0], "=") || f[0] == "!") { // VAR=… cmd
					f = f[1:]
				}
				if len(f) > 0 && !base[f[0]] && !strings.HasPrefix(f[0], "'") && !strings.HasPrefix(f[0], `"`) && !strings.HasPrefix(f[0], ">") {
					tools[f[0]] = fmt.Sprintf("%s:%d", c.file, c.line)
				}
			}
		}
	}
	if len(tools) < 3 {
		t.Fatalf("found only %v in the examples; the test lost them", tools)
	}
	for tool, where := range tools {
		found := false
		for _, p := range paragraphs {
			if strings.Contains(p, "`"+tool+"`") && install.MatchString(p) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s runs %s, but no paragraph of the example docs says where it comes from (names `%s` and how to install it)", where, tool, tool)
		}
	}
}
