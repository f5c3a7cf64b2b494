package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ingestd/ingestd/segment"
)

var binPath string

var longCrash = flag.Bool("crash.long", os.Getenv("INGESTD_CRASH_LONG") == "1", "run the crash and power-cut tests with many rounds (INGESTD_CRASH_LONG=1 sets the default; CI sets it)")

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ingestd-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "ingestd")
	// -tags failpoints: the crash-point test arms them through the
	// environment; unarmed they only compare a string.
	out, err := exec.Command("go", "build", "-race", "-tags", "failpoints", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		// -race needs cgo; fall back to a plain build.
		out, err = exec.Command("go", "build", "-tags", "failpoints", "-o", binPath, ".").CombinedOutput()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ingestd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running ingestd child process.
type daemon struct {
	client *http.Client // plain, or HTTPS trusting any certificate when the config has tls
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	dir    string
	log    *syncBuffer
	done   chan struct{}
	err    error
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	s.b.WriteString(v)
	s.mu.Unlock()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var addrRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startDaemon runs `ingestd serve` on a free port with extra YAML config and
// waits until /readyz answers 200.
func startDaemon(t *testing.T, dataDir, yaml string) *daemon {
	t.Helper()
	d, err := launchDaemon(t, dataDir, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// launchDaemon is startDaemon with extra environment variables; it returns
// an error (and the dead daemon) when the daemon exits before it is ready,
// as a crash test's armed failpoint may make it do.
func launchDaemon(t *testing.T, dataDir, yaml string, env []string) (*daemon, error) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "ingestd.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "serve", "--config", cfg, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, dir: dataDir, log: &syncBuffer{}, done: make(chan struct{}), client: http.DefaultClient}
	t.Cleanup(func() { // a test that failed half-way leaves no daemon behind
		select {
		case <-d.done:
		default:
			cmd.Process.Kill()
			<-d.done
		}
	})
	scheme := "http://"
	if strings.Contains(yaml, "cert_file:") {
		scheme = "https://"
		d.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.log.WriteString(line + "\n")
			if m := addrRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		d.err = cmd.Wait()
		close(d.done)
	}()
	select {
	case a := <-addr:
		d.url = scheme + a
	case <-d.done:
		return d, fmt.Errorf("daemon exited at start: %v\n%s", d.err, d.log)
	case <-time.After(30 * time.Second):
		d.kill()
		return d, fmt.Errorf("daemon did not listen\n%s", d.log)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.client.Get(d.url + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Recovered: ready, or closed to writes only for lack of disk space.
			if resp.StatusCode == 200 || strings.Contains(string(b), `"disk_low"`) {
				return d, nil
			}
		}
		select {
		case <-d.done:
			return d, fmt.Errorf("daemon exited during recovery: %v\n%s", d.err, d.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.kill()
	return d, fmt.Errorf("daemon not ready\n%s", d.log)
}

// stop sends SIGTERM and requires exit status 0.
func (d *daemon) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.kill()
		d.t.Fatalf("daemon did not stop\n%s", d.log)
	}
	if d.err != nil {
		d.t.Fatalf("daemon exit: %v\n%s", d.err, d.log)
	}
}

// kill sends SIGKILL and waits.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

type reply struct {
	code int
	body string
	hdr  http.Header
}

func (d *daemon) post(t *testing.T, path string, body []byte, hdr map[string]string) reply {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", d.url+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

// stored returns every stored record line, by day folder name, reading
// sealed and open files through the segment reader.
func stored(t *testing.T, dataDir string) map[string][]string {
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

func allStored(t *testing.T, dataDir string) []string {
	var all []string
	for _, v := range stored(t, dataDir) {
		all = append(all, v...)
	}
	return all
}

// files lists every file under dir (relative paths).
func files(t *testing.T, dir string) []string {
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

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binPath, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}
