// Package e2e runs the real ingestd for the end-to-end tests under e2e/:
// Main builds the binary once per test package (with -race and the
// failpoints tag), Start runs `ingestd serve` on a free port and waits until
// it is ready, and the helpers post, read what was stored, run the CLI and
// start the outside programs the tests talk to (versitygw, DuckDB).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ingestd/ingestd/internal/gobin"
	"github.com/ingestd/ingestd/internal/testenv"
	"github.com/ingestd/ingestd/segment"
)

// Scrape returns the daemon's metrics as "name{labels}" → value.
func Scrape(t *testing.T, d *Daemon) map[string]float64 {
	t.Helper()
	resp, err := d.Client.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q", l)
		}
		out[l[:i]] = v
	}
	return out
}

// S3Key and S3Secret are the test S3 server's credentials.
const S3Key, S3Secret = "ingestdtestkey", "ingestdtestsecret0123456789"

// S3Server is a versitygw started by the test on loopback.
type S3Server struct {
	Bin, Dir, Addr string
	Cmd            *exec.Cmd
}

// LookVersitygw returns the versitygw binary, or "" when it is not installed.
func LookVersitygw() string { return gobin.Find("versitygw") }

// FileExists reports whether p exists.
func FileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Start runs versitygw on s.Addr over s.Dir and waits until it listens.
func (s *S3Server) Start(t *testing.T) {
	t.Helper()
	s.Cmd = exec.Command(s.Bin, "--port", s.Addr, "posix", s.Dir)
	s.Cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+S3Key, "ROOT_SECRET_KEY="+S3Secret)
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("versitygw did not listen")
}

// Stop kills the S3 server.
func (s *S3Server) Stop() {
	if s.Cmd != nil && s.Cmd.Process != nil {
		s.Cmd.Process.Kill()
		s.Cmd.Wait()
		s.Cmd = nil
	}
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Get sends a GET with an Authorization header (none when auth is "").
func (d *Daemon) Get(t *testing.T, path, auth string) Reply {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", d.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c := *d.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Reply{resp.StatusCode, string(b), resp.Header}
}

// DuckDB runs a query through .ci/duckdb/query.mjs, or skips the test when
// node or the DuckDB module is missing.
func DuckDB(t *testing.T, sql string) string {
	t.Helper()
	root, _ := filepath.Abs("../..")
	script := filepath.Join(root, ".ci", "duckdb", "query.mjs")
	if _, err := os.Stat(filepath.Join(root, ".ci", "duckdb", "node_modules", "@duckdb", "node-api")); err != nil {
		testenv.Missing(t, "DuckDB's Node.js API", "npm install --prefix .ci/duckdb @duckdb/node-api")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node", "apt-get install nodejs npm")
	}
	out, err := exec.Command(node, script, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// WaitLog waits until the daemon's log contains s.
func WaitLog(t *testing.T, d *Daemon, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q\n%s", s, d.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..")
}

// WaitFor polls cond for up to 60 s.
func WaitFor(t *testing.T, what string, cond func() bool) {
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

// Bin is the ingestd binary Main built.
var Bin string

// LongCrash runs the crash and power-cut tests with many rounds.
var LongCrash = flag.Bool("crash.long", os.Getenv("INGESTD_CRASH_LONG") == "1", "run the crash and power-cut tests with many rounds (INGESTD_CRASH_LONG=1 sets the default; CI sets it)")

// Daemon is a running ingestd child process.
type Daemon struct {
	Client *http.Client // plain, or HTTPS trusting any certificate when the config has tls
	t      *testing.T
	Cmd    *exec.Cmd
	URL    string
	Dir    string
	Log    *SyncBuffer
	Done   chan struct{}
	Err    error
}

// SyncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// WriteString appends v.
func (s *SyncBuffer) WriteString(v string) {
	s.mu.Lock()
	s.b.WriteString(v)
	s.mu.Unlock()
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var addrRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

var consulted sync.Once

// consultSources stats every source file of the module from inside a test,
// so that go test's cache, which keys a package's result on the files its
// tests consulted, runs the end-to-end tests again after any change to the
// daemon: the binary Main builds is not a dependency the go command sees.
func consultSources() {
	consulted.Do(func() {
		root := RepoRoot()
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return nil
			case e.IsDir() && (e.Name() == ".git" || e.Name() == "node_modules" || e.Name() == "testdata" && p != filepath.Join(root, "testdata")):
				return filepath.SkipDir
			case strings.HasSuffix(p, ".go") || e.Name() == "go.mod" || e.Name() == "go.sum":
				os.Stat(p)
			}
			return nil
		})
	})
}

// Start runs `ingestd serve` on a free port with extra YAML config and
// waits until /readyz answers 200.
func Start(t *testing.T, dataDir, yaml string) *Daemon {
	t.Helper()
	d, err := Launch(t, dataDir, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Launch is Start with extra environment variables; it returns
// an error (and the dead daemon) when the daemon exits before it is ready,
// as a crash test's armed failpoint may make it do.
func Launch(t *testing.T, dataDir, yaml string, env []string) (*Daemon, error) {
	t.Helper()
	consultSources()
	cfg := filepath.Join(t.TempDir(), "ingestd.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Bin, "serve", "--config", cfg, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{t: t, Cmd: cmd, Dir: dataDir, Log: &SyncBuffer{}, Done: make(chan struct{}), Client: http.DefaultClient}
	t.Cleanup(func() { // a test that failed half-way leaves no daemon behind
		select {
		case <-d.Done:
		default:
			cmd.Process.Kill()
			<-d.Done
		}
	})
	scheme := "http://"
	if strings.Contains(yaml, "cert_file:") {
		scheme = "https://"
		d.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.Log.WriteString(line + "\n")
			if m := addrRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		d.Err = cmd.Wait()
		close(d.Done)
	}()
	select {
	case a := <-addr:
		d.URL = scheme + a
	case <-d.Done:
		return d, fmt.Errorf("daemon exited at start: %v\n%s", d.Err, d.Log)
	case <-time.After(30 * time.Second):
		d.Kill()
		return d, fmt.Errorf("daemon did not listen\n%s", d.Log)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.Client.Get(d.URL + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Recovered: ready, or closed to writes only for lack of disk space.
			if resp.StatusCode == 200 || strings.Contains(string(b), `"disk_low"`) {
				return d, nil
			}
		}
		select {
		case <-d.Done:
			return d, fmt.Errorf("daemon exited during recovery: %v\n%s", d.Err, d.Log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.Kill()
	return d, fmt.Errorf("daemon not ready\n%s", d.Log)
}

// Stop sends SIGTERM and requires exit status 0.
func (d *Daemon) Stop() {
	d.t.Helper()
	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.Done:
	case <-time.After(60 * time.Second):
		d.Kill()
		d.t.Fatalf("daemon did not stop\n%s", d.Log)
	}
	if d.Err != nil {
		d.t.Fatalf("daemon exit: %v\n%s", d.Err, d.Log)
	}
}

// Kill sends SIGKILL and waits.
func (d *Daemon) Kill() {
	d.Cmd.Process.Signal(syscall.SIGKILL)
	<-d.Done
}

// Reply is an HTTP answer: status, body and headers.
type Reply struct {
	Code int
	Body string
	Hdr  http.Header
}

// Post sends body to path with the headers hdr.
func (d *Daemon) Post(t *testing.T, path string, body []byte, hdr map[string]string) Reply {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", d.URL+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Reply{resp.StatusCode, string(b), resp.Header}
}

// Stored returns every stored record line, by day folder name, reading
// sealed and open files through the segment reader.
func Stored(t *testing.T, dataDir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	days, err := segment.ListDays(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		sealed, open, err := segment.DayFiles(d.Dir)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(d.Dir)
		err = segment.ScanFiles(context.Background(), append(sealed, open...), segment.ScanOptions{}, func(_ string, _ segment.BlockMeta, raw []byte) error {
			for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
				out[name] = append(out[name], l)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// AllStored is every stored record line, of all days.
func AllStored(t *testing.T, dataDir string) []string {
	var all []string
	for _, v := range Stored(t, dataDir) {
		all = append(all, v...)
	}
	return all
}

// Files lists every file under dir (relative paths).
func Files(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		return nil
	})
	return out
}

// CLI runs the ingestd binary with args and returns its output and exit code.
func CLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	consultSources()
	out, err := exec.Command(Bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// Main builds ingestd (with -race when cgo allows, and the failpoints tag:
// the crash tests arm them through the environment; unarmed they only
// compare a string) and runs the package's tests. A test package's
// TestMain calls it.
func Main(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ingestd-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	Bin = filepath.Join(dir, "ingestd")
	// -tags failpoints: the crash-point test arms them through the
	// environment; unarmed they only compare a string.
	out, err := exec.Command("go", "build", "-race", "-tags", "failpoints", "-o", Bin, "github.com/ingestd/ingestd/cmd/ingestd").CombinedOutput()
	if err != nil {
		// -race needs cgo; fall back to a plain build.
		out, err = exec.Command("go", "build", "-tags", "failpoints", "-o", Bin, "github.com/ingestd/ingestd/cmd/ingestd").CombinedOutput()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ingestd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// BucketAndLocal returns every record line in the bucket's segment objects
// and a data dir's segment files together, counting each file
// once: the segment objects in the bucket and the data dir's files, a
// compacted file dropping the parts its manifest replaces.
func BucketAndLocal(t *testing.T, c *minio.Client, bucket, dataDir string) []string {
	t.Helper()
	ctx := context.Background()
	merged := t.TempDir()
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "dt=", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !strings.HasSuffix(o.Key, segment.SuffixSealed) {
			continue
		}
		day := filepath.Join(segment.SegmentsDir(merged), path.Dir(o.Key))
		os.MkdirAll(day, 0o755)
		os.WriteFile(filepath.Join(day, path.Base(o.Key)), GetObject(t, c, bucket, o.Key), 0o644)
	}
	days, err := segment.ListDays(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		sealed, open, err := segment.DayFiles(d.Dir)
		if err != nil {
			t.Fatal(err)
		}
		day := filepath.Join(segment.SegmentsDir(merged), filepath.Base(d.Dir))
		os.MkdirAll(day, 0o755)
		for _, f := range append(sealed, open...) {
			dst := filepath.Join(day, filepath.Base(f))
			if _, err := os.Stat(dst); err == nil {
				continue // shipped: the same file
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(dst, b, 0o644)
		}
	}
	var lines []string
	days, _ = segment.ListDays(merged)
	for _, d := range days {
		in, err := segment.DayInputs(d.Dir)
		if err != nil {
			t.Fatal(err)
		}
		err = segment.ScanFiles(ctx, in, segment.ScanOptions{}, func(_ string, _ segment.BlockMeta, raw []byte) error {
			for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
				lines = append(lines, l)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

// GetObject reads a whole object.
func GetObject(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}
