// Command chaos is a soak test of ingestd under faults: minutes of mixed
// load from retrying clients (each request keeps its Idempotency-Key across
// retries) while, at random intervals, it kill -9s the daemon, SIGSTOPs it
// for seconds (clients time out and retry), fills the disk past
// disk.min_free and frees it, takes the S3 server down and up, loses the
// whole disk (kill -9, the data dir emptied, `ingestd restore` from the
// bucket; writes use storage.ack: bucket), and flips one byte of a sealed,
// shipped file. At the end it checks that every
// acknowledged record is stored exactly once, that the scrub and
// `ingestd verify` name the corrupted file and nothing else, and that the
// bucket matches the local files; it prints a summary table.
//
//	go run ./bench/chaos -duration 30m -out docs/chaos-last.md
//
// The disk faults need root (a tmpfs holds the data dir); the S3 faults
// need versitygw. Without them those kinds are skipped and say so.
// It exits 1 when anything was lost, duplicated or misreported.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/internal/gobin"
)

func main() {
	duration := flag.Duration("duration", 3*time.Minute, "how long the load and the faults run")
	bin := flag.String("bin", "", "ingestd binary (default: go build ./cmd/ingestd)")
	seed := flag.Int64("seed", time.Now().UnixNano(), "random seed for the load and the faults")
	producers := flag.Int("producers", 4, "concurrent producers")
	rate := flag.Float64("rate", 4000, "records per second at most, all producers together (a soak is about faults; the data must fit the tmpfs)")
	out := flag.String("out", "", "also write the summary table (Markdown) to this file")
	keep := flag.Bool("keep", false, "keep the work folder")
	flag.Parse()
	os.Exit(run(*duration, *bin, *seed, *producers, *rate, *out, *keep))
}

// soak is one run's state.
type soak struct {
	rng     *rand.Rand
	rngMu   sync.Mutex
	work    string // everything of the run
	data    string // the daemon's data dir
	tmpfs   bool   // data is on a tmpfs of tmpfsSize bytes: disk faults possible
	bin     string
	cfgPath string
	s3      *s3server // nil: no shipping, no S3 faults
	d       *daemon   // guarded by dmu
	dmu     sync.Mutex

	faults   map[string]int // injected, by kind; guarded by fmu
	skipped  map[string]string
	fmu      sync.Mutex
	corrupt  string // the one flipped file ("" if none could be chosen)
	lostDisk bool   // a disk_lost fault happened: days shipped before it are only in the bucket
	scrubHit time.Duration

	reqs      []*request // guarded by reqMu
	reqMu     sync.Mutex
	nextID    atomic.Int64
	start     time.Time
	producers int
	rate      float64 // records/s, all producers together
}

const (
	tmpfsSize = 3 << 30
	minFree   = 256 << 20
	bucket    = "chaos"
	s3Key     = "chaoskey"
	s3Secret  = "chaossecret123"
)

func run(duration time.Duration, bin string, seed int64, producers int, rate float64, out string, keep bool) int {
	s := &soak{rng: rand.New(rand.NewSource(seed)), faults: map[string]int{}, skipped: map[string]string{}, producers: producers, rate: rate}
	fmt.Printf("chaos: seed %d, %v of load with %d producers\n", seed, duration, producers)
	var err error
	if s.work, err = os.MkdirTemp("", "ingestd-chaos"); err != nil {
		return fail(err)
	}
	defer func() {
		if keep {
			fmt.Println("chaos: kept", s.work)
		} else {
			exec.Command("umount", "-l", filepath.Join(s.work, "data")).Run()
			os.RemoveAll(s.work)
		}
	}()
	if err := s.setup(bin); err != nil {
		return fail(err)
	}
	defer s.teardown()

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	s.start = time.Now()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			s.produce(ctx, rand.New(rand.NewSource(seed)))
		}(s.rand(1 << 62))
	}
	s.injectFaults(ctx, duration)
	wg.Wait() // producers retry what is in flight until it is answered
	return s.finish(out)
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	return 2
}

func (s *soak) rand(n int64) int64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Int63n(n)
}

func (s *soak) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rand(int64(hi-lo)+1))
}

// setup builds the daemon, mounts the data tmpfs, starts S3 and the daemon.
func (s *soak) setup(bin string) error {
	s.bin = bin
	if s.bin == "" {
		s.bin = filepath.Join(s.work, "ingestd")
		if out, err := exec.Command("go", "build", "-o", s.bin, "./cmd/ingestd").CombinedOutput(); err != nil {
			return fmt.Errorf("build ingestd (run from the repository root): %v\n%s", err, out)
		}
	}
	s.data = filepath.Join(s.work, "data")
	os.MkdirAll(s.data, 0o700)
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", tmpfsSize), "tmpfs", s.data).CombinedOutput(); err == nil {
			s.tmpfs = true
		} else {
			s.skipped["disk_full"] = "cannot mount a tmpfs: " + strings.TrimSpace(string(out))
		}
	} else {
		s.skipped["disk_full"] = "not root (a tmpfs holds the data dir for the disk faults)"
	}
	if vgw := gobin.Find("versitygw"); vgw != "" {
		s.s3 = &s3server{bin: vgw, dir: filepath.Join(s.work, "s3"), addr: freeAddr()}
		os.MkdirAll(filepath.Join(s.s3.dir, bucket), 0o700) // posix backend: a bucket is a folder
		if err := s.s3.start(); err != nil {
			return err
		}
	} else {
		s.skipped["s3_down"] = "versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
		s.skipped["disk_lost"] = "needs the bucket to restore from"
		s.skipped["corrupt"] = "needs shipping to restore the file"
	}
	cfg := fmt.Sprintf(`
node_id: chaos
wal:
  file_size: 4MiB
segments:
  block_size: 256KiB
  block_age: 200ms
  seal_grace: 0s
  seal_idle: 3s
disk:
  min_free: %d
report:
  schedule: "off"
scrub:
  interval: 2s
  rate: 64MiB
`, minFree)
	if !s.tmpfs {
		cfg = strings.Replace(cfg, fmt.Sprintf("min_free: %d", minFree), "min_free: 0", 1)
	}
	if s.s3 != nil {
		// ack: bucket, so that losing the disk loses nothing acknowledged.
		cfg += fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n  delete_after: -1s\n  interval: 1s\n  ack: bucket\n  ack_timeout: 2s\n",
			s.s3.addr, bucket, s3Key, s3Secret)
	}
	s.cfgPath = filepath.Join(s.work, "ingestd.yaml")
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	return s.startDaemon()
}

func (s *soak) teardown() {
	s.dmu.Lock()
	if s.d != nil {
		s.d.cmd.Process.Signal(syscall.SIGCONT)
		s.d.cmd.Process.Kill()
		<-s.d.done
	}
	s.dmu.Unlock()
	if s.s3 != nil {
		s.s3.stop()
	}
}

func (s *soak) count(kind string) {
	s.fmu.Lock()
	s.faults[kind]++
	s.fmu.Unlock()
}

// injectFaults injects a fault every 4 to 12 s until ctx ends, going
// through the kinds in a shuffled round so a short run has each of them;
// the byte flip comes once, as soon as a shipped file of a finished day
// exists in the second half of the run.
func (s *soak) injectFaults(ctx context.Context, duration time.Duration) {
	var round []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.between(4*time.Second, 12*time.Second)):
		}
		kind := ""
		// The disk is lost at least once, before the byte flip (whose file
		// must stay for the checks).
		if _, skip := s.skipped["disk_lost"]; !skip && !s.lostDisk && time.Since(s.start) > duration/3 {
			kind = "disk_lost"
		}
		if _, skip := s.skipped["corrupt"]; !skip && kind == "" && s.corrupt == "" && time.Since(s.start) > duration/2 {
			if p, err := s.pickShipped(); err == nil && p != "" {
				kind = "corrupt"
			}
		}
		if kind == "" {
			if len(round) == 0 {
				for _, k := range []string{"kill9", "sigstop", "disk_full", "s3_down", "disk_lost"} {
					if _, skip := s.skipped[k]; !skip {
						round = append(round, k)
					}
				}
				s.rngMu.Lock()
				s.rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
				s.rngMu.Unlock()
			}
			kind, round = round[0], round[1:]
		}
		if err := s.fault(kind); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: %s: %v\n", kind, err)
		}
	}
}

func (s *soak) fault(kind string) error {
	switch kind {
	case "kill9":
		s.dmu.Lock()
		s.d.cmd.Process.Signal(syscall.SIGKILL)
		<-s.d.done
		s.dmu.Unlock()
		s.count(kind)
		return s.startDaemon()
	case "sigstop":
		s.dmu.Lock()
		p := s.d.cmd.Process
		s.dmu.Unlock()
		p.Signal(syscall.SIGSTOP)
		s.count(kind)
		time.Sleep(s.between(2*time.Second, 6*time.Second)) // past the clients' timeout
		return p.Signal(syscall.SIGCONT)
	case "disk_full":
		var st syscall.Statfs_t
		if err := syscall.Statfs(s.data, &st); err != nil {
			return err
		}
		free := int64(st.Bavail) * int64(st.Bsize)
		fill := free - minFree/2
		if fill <= 0 {
			return nil
		}
		filler := filepath.Join(s.data, "chaos-filler")
		if err := writeZeros(filler, fill); err != nil && !errors.Is(err, syscall.ENOSPC) {
			os.Remove(filler)
			return err
		}
		s.count(kind)
		time.Sleep(s.between(2*time.Second, 5*time.Second)) // intake answers 507; clients retry
		return os.Remove(filler)
	case "s3_down":
		s.s3.stop()
		s.count(kind)
		time.Sleep(s.between(3*time.Second, 10*time.Second))
		return s.s3.start()
	case "disk_lost":
		if s.corrupt != "" {
			return nil // the flipped file must stay for the scrub and verify to find
		}
		s.dmu.Lock()
		defer s.dmu.Unlock()
		s.d.cmd.Process.Signal(syscall.SIGKILL)
		<-s.d.done
		ents, err := os.ReadDir(s.data) // the tmpfs mount itself stays
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(s.data, e.Name())); err != nil {
				return err
			}
		}
		s.count(kind)
		s.lostDisk = true
		cli := filepath.Join(s.work, "restore.yaml")
		os.WriteFile(cli, []byte(fmt.Sprintf("storage:\n  endpoint: %s\n  bucket: %s\n  access_key: %s\n  secret_key: %s\n", s.s3.addr, bucket, s3Key, s3Secret)), 0o600)
		// The node was killed a moment ago: its heartbeat is fresh.
		if out, err := exec.Command(s.bin, "restore", "--config", cli, "--source", "s3://"+bucket, "--node", "chaos", "--data-dir", s.data, "--force").CombinedOutput(); err != nil {
			return fmt.Errorf("restore: %v\n%s", err, out)
		}
		s.dmu.Unlock()
		err = s.startDaemon()
		s.dmu.Lock()
		return err
	case "corrupt":
		p, err := s.pickShipped()
		if err != nil || p == "" {
			return err // none yet: try again later
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		i := len(b)/2 + int(s.rand(int64(len(b)/4)))
		b[i] ^= byte(1 << s.rand(8))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		s.corrupt = p
		s.count(kind)
		fmt.Printf("chaos: flipped a bit at offset %d of %s\n", i, p)
		go s.waitScrub()
		return nil
	}
	return fmt.Errorf("unknown fault %s", kind)
}

func writeZeros(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// pickShipped returns a compacted file of a day that gets no more records
// (two load phases old) whose upload was confirmed.
func (s *soak) pickShipped() (string, error) {
	paths, err := filepath.Glob(filepath.Join(s.data, "segments", "dt=*", "*-compact-*.ndjson.zst"))
	if err != nil {
		return "", err
	}
	active := map[string]bool{}
	for _, d := range s.activeDays(time.Now()) {
		active[d] = true
	}
	prev := s.activeDays(time.Now().Add(-phaseLength))
	for _, d := range prev {
		active[d] = true
	}
	sort.Strings(paths)
	for _, p := range paths {
		day := strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "dt=")
		if active[day] {
			continue
		}
		if _, err := os.Stat(p + ".shipped"); err == nil {
			return p, nil
		}
	}
	return "", nil
}

var scrubRe = regexp.MustCompile(`(?m)^ingestd_scrub_corrupt_files (\S+)$`)

// waitScrub records how long the daemon's scrub took to report the flip.
func (s *soak) waitScrub() {
	t0 := time.Now()
	for time.Since(t0) < 2*time.Minute {
		time.Sleep(200 * time.Millisecond)
		s.dmu.Lock()
		d := s.d
		s.dmu.Unlock()
		if d == nil {
			return // stopped
		}
		resp, err := (&http.Client{Timeout: time.Second}).Get(d.url + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := scrubRe.FindSubmatch(b); m != nil && string(m[1]) != "0" {
			s.fmu.Lock()
			s.scrubHit = time.Since(t0)
			s.fmu.Unlock()
			return
		}
	}
}

// daemon is a running ingestd.
type daemon struct {
	cmd  *exec.Cmd
	url  string
	log  *bytes.Buffer
	done chan struct{}
}

var addrRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

func (s *soak) startDaemon() error {
	cmd := exec.Command(s.bin, "serve", "--config", s.cfgPath, "--data-dir", s.data, "--listen", "127.0.0.1:0")
	logf, err := os.OpenFile(filepath.Join(s.work, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return err
	}
	d := &daemon{cmd: cmd, log: &bytes.Buffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		buf := make([]byte, 64<<10)
		var line []byte
		for {
			n, err := pr.Read(buf)
			logf.Write(buf[:n])
			line = append(line, buf[:n]...)
			if m := addrRe.FindSubmatch(line); m != nil {
				select {
				case addr <- string(m[1]):
				default:
				}
				line = line[:0]
			} else if len(line) > 1<<20 {
				line = line[len(line)-4096:]
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		logf.Close()
		close(d.done)
	}()
	select {
	case a := <-addr:
		d.url = "http://" + a
	case <-d.done:
		return fmt.Errorf("daemon exited at start (see %s)", filepath.Join(s.work, "daemon.log"))
	case <-time.After(60 * time.Second):
		return errors.New("daemon did not listen")
	}
	for t0 := time.Now(); time.Since(t0) < 2*time.Minute; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(d.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			// 503 with disk_low is ready enough: intake answers 507 until space returns.
			if resp.StatusCode == 200 || resp.StatusCode == 503 {
				s.dmu.Lock()
				s.d = d
				s.dmu.Unlock()
				return nil
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("daemon exited during recovery (see %s)", filepath.Join(s.work, "daemon.log"))
		default:
		}
	}
	return errors.New("daemon not ready")
}

// s3server is a versitygw on loopback.
type s3server struct {
	bin, dir, addr string
	cmd            *exec.Cmd
}

func (s *s3server) start() error {
	s.cmd = exec.Command(s.bin, "--port", s.addr, "posix", s.dir)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s3Key, "ROOT_SECRET_KEY="+s3Secret)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	for t0 := time.Now(); time.Since(t0) < 20*time.Second; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return nil
		}
	}
	return errors.New("versitygw did not listen")
}

func (s *s3server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
