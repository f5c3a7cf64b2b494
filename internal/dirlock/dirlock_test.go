package dirlock

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/testenv"
)

func TestOneHolderAtATime(t *testing.T) {
	dir := t.TempDir()
	if _, held := Held(dir); held {
		t.Fatal("a fresh dir is held")
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetAddr("127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	// flock is per open file description: a second Acquire in this
	// process conflicts just as another process would.
	_, err = Acquire(dir)
	var he *HeldError
	if !errors.As(err, &he) || he.Holder.PID != os.Getpid() || he.Holder.Addr != "127.0.0.1:8080" ||
		!strings.Contains(err.Error(), "127.0.0.1:8080") {
		t.Fatalf("second Acquire: %v", err)
	}
	if h, held := Held(dir); !held || h.PID != os.Getpid() {
		t.Fatalf("Held: %v %v", h, held)
	}
	l.Release()
	if _, held := Held(dir); held {
		t.Fatal("held after Release")
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// TestAnotherProcessSeesTheLock: flock(1) from util-linux holds it.
func TestAnotherProcessSeesTheLock(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		testenv.Missing(t, "flock(1)", "apt-get install util-linux")
	}
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("flock", "-n", dir+"/"+Name, "true").CombinedOutput()
	if err == nil {
		t.Fatalf("flock(1) took a held lock: %s", out)
	}
	l.Release()
	if out, err := exec.Command("flock", "-n", dir+"/"+Name, "true").CombinedOutput(); err != nil {
		t.Fatalf("flock(1) after Release: %v %s", err, out)
	}
}
