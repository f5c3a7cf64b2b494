package report

import (
	"context"
	"log/slog"
	"sync"
)

// PartialWorker computes daily partials in the background, one day at a time,
// as the daemon finishes days. Its scans use Config.Workers cores (1 by
// default inside the daemon), off the request path.
type PartialWorker struct {
	cfg     Config
	log     *slog.Logger
	mu      sync.Mutex
	queue   []string
	queued  map[string]bool
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	Written func(dir string) // test hook: called after each stored partial
}

// NewPartialWorker starts a worker.
func NewPartialWorker(cfg Config, log *slog.Logger) *PartialWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &PartialWorker{cfg: cfg, log: log, queued: map[string]bool{}, wake: make(chan struct{}, 1),
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
		res, err := DayPartial(w.ctx, dir, w.cfg, true, false, ScanOptions{})
		switch {
		case w.ctx.Err() != nil:
			return
		case err != nil:
			w.log.Warn("daily report partial failed; the monthly report will compute it", "dir", dir, "err", err)
		case res.Scanned:
			w.log.Info("daily report partial written", "dir", dir, "records", res.Partial.Agg.Records, "stored", res.Stored)
		}
		if w.Written != nil && err == nil {
			w.Written(dir)
		}
	}
}

// Close stops the worker, abandoning a partial being computed.
func (w *PartialWorker) Close() {
	w.cancel()
	<-w.done
}
