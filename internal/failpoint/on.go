//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Enabled reports whether this build can crash at failpoints.
const Enabled = true

var (
	armed = parse(os.Getenv("INGESTD_FAILPOINT"))
	trace = os.Getenv("INGESTD_FAILPOINT_TRACE") == "1"
	stop  = os.Getenv("INGESTD_FAILPOINT_STOP")
	stops sync.Once
	hits  atomic.Int64
	seen  sync.Map // name -> struct{}: reached at least once (for the trace)
)

type arm struct {
	name string
	n    int64
}

func parse(v string) arm {
	name, count, ok := strings.Cut(v, "@")
	a := arm{name: name, n: 1}
	if ok {
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "failpoint: bad INGESTD_FAILPOINT %q (want NAME or NAME@N)\n", v)
			os.Exit(2)
		}
		a.n = n
	}
	return a
}

// Hit kills the process with SIGKILL when name is the armed point and this
// is its armed hit; it returns otherwise.
func Hit(name string) {
	if trace {
		if _, dup := seen.LoadOrStore(name, struct{}{}); !dup {
			fmt.Fprintf(os.Stderr, "failpoint: reached %s\n", name)
		}
	}
	if name == stop {
		stops.Do(func() {
			// A graceful stop that begins during this step: the error
			// paths a stop takes (a cancelled compaction, an interrupted
			// report) become points a test can crash at.
			fmt.Fprintf(os.Stderr, "failpoint: stopping at %s\n", name)
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
			time.Sleep(3 * time.Second)
		})
	}
	if name != armed.name || hits.Add(1) != armed.n {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint: crashing at %s\n", name)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught; never go on past the point
}
