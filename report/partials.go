package report

import (
	"context"
	"log/slog"
	"sync"
)

// PartialWorker computes daily partials in the background, one day at a time,
// as the daemon finishes days, off the request path.
type PartialWorker struct {
	compute func(ctx context.Context, dir string) error
	log     *slog.Logger
	mu      sync.Mutex
	queue   []string
	queued  map[string]bool
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

// StorePartial computes the partial of one day folder with cfg and stores
// it beside the day as node's (unless the day still has open parts).
func StorePartial(ctx context.Context, dir, node string, cfg Config) (DayResult, error) {
	return DayPartial(ctx, dir, node, cfg, true, false, ScanOptions{})
}

// NewPartialWorker starts a worker; compute makes and stores one day's
// partial (StorePartial, or a child process that runs it at low priority).
func NewPartialWorker(compute func(ctx context.Context, dir string) error, log *slog.Logger) *PartialWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &PartialWorker{compute: compute, log: log, queued: map[string]bool{}, wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go w.loop()
	return w
}

// Enqueue asks for the partial of a day folder. It never blocks.
func (w *PartialWorker) Enqueue(dir string) {
	w.mu.Lock()
	if !w.queued[dir] {
		w.queued[dir] = true
		w.queue = append(w.queue, dir)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *PartialWorker) loop() {
	defer close(w.done)
	for {
		w.mu.Lock()
		var dir string
		if len(w.queue) > 0 {
			dir, w.queue = w.queue[0], w.queue[1:]
			delete(w.queued, dir)
		}
		w.mu.Unlock()
		if dir == "" {
			select {
			case <-w.wake:
				continue
			case <-w.ctx.Done():
				return
			}
		}
		err := w.compute(w.ctx, dir)
		switch {
		case w.ctx.Err() != nil:
			return
		case err != nil:
			w.log.Warn("daily report partial failed; the monthly report will compute it", "dir", dir, "err", err)
		default:
			w.log.Info("daily report partial written", "dir", dir)
		}
	}
}

// Close stops the worker, abandoning a partial being computed.
func (w *PartialWorker) Close() {
	w.cancel()
	<-w.done
}
