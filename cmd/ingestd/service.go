package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/explore"
	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/fluentd"
	"github.com/ingestd/ingestd/ingest/httpapi"
	"github.com/ingestd/ingestd/ingest/otlpgrpc"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/ingest/syslogd"
	"github.com/ingestd/ingestd/internal/dirlock"
	"github.com/ingestd/ingestd/report"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serveOptions are serve's flags beyond the configuration.
type serveOptions struct {
	pprof       string        // address of Go's /debug/pprof; "" for none
	stopTimeout time.Duration // how long a graceful stop waits for in-flight requests
	open        bool          // allow a non-loopback listener without tokens
}

// service is `ingestd serve`: the intake core, its listeners and the work
// around it (daily partials, scheduled reports, shipping, scrubbing).
// newService builds it from the configuration without touching the network,
// run serves until a signal or a listener's failure, close releases what
// newService took (the data dir's lock, the partials' worker).
type service struct {
	cfg     fileConfig
	common  *commonFlags
	opt     serveOptions
	log     *slog.Logger
	lock    *dirlock.Lock
	core    *ingest.Core
	reg     *prometheus.Registry // every component's metrics, served at /metrics
	certs   *certReloader        // nil without TLS
	grpc    *otlpgrpc.Server     // nil without otlp.listen_grpc
	fluent  *fluentd.Server      // nil without fluent.listen
	tokens  []ingest.Token       // auth.tokens and auth.token_file's, as the core started with
	shipper *ship.Shipper        // nil without storage
	tail    *ship.Tail           // continuous shipping of the WAL; nil without storage
	scheds  []*report.Scheduler
	closers []func() // in the order they run at close
}

// exitErr is an error of newService or run with the exit status it means:
// 2 for a configuration the daemon refuses, 1 for a failure to start.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }

func refuse(format string, a ...any) error { return &exitErr{2, fmt.Errorf(format, a...)} }

// newService checks what the configuration allows, takes the data dir's lock
// and builds every component; nothing listens yet.
func newService(cfg fileConfig, common *commonFlags, opt serveOptions, log *slog.Logger) (_ *service, err error) {
	tokens, err := cfg.tokens()
	if err != nil {
		return nil, &exitErr{2, err}
	}
	if err := checkExposure(cfg, tokens, opt.open); err != nil {
		return nil, err
	}
	d := &service{cfg: cfg, common: common, opt: opt, log: log, tokens: tokens, reg: prometheus.NewRegistry()}
	// The process's and the Go runtime's own view, for finding where
	// latency goes: scheduling latency (go_sched_latencies_seconds), GC
	// pauses and CPU, heap, and the process's CPU and memory.
	d.reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC, collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.lock, err = dirlock.Acquire(cfg.DataDir); err != nil {
		return nil, &exitErr{1, err}
	}
	d.closers = append(d.closers, func() { d.lock.Release() })
	if cfg.TLS.CertFile != "" {
		if d.certs, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			return nil, &exitErr{2, err}
		}
	}
	if cfg.Buffers.MemoryLimit > 0 { // process-wide: the command's, not the core's
		debug.SetMemoryLimit(int64(cfg.Buffers.MemoryLimit))
	}
	if d.core, err = ingest.New(cfg.coreConfig(tokens), d.reg, log); err != nil {
		return nil, &exitErr{2, err}
	}
	if err := d.buildBackground(); err != nil {
		return nil, err
	}
	return d, nil
}

// checkExposure refuses configurations that would let anyone write, or
// that cannot work: listeners off loopback without tokens (unless --open),
// a syslog token whose role is read, TLS syslog without a certificate.
func checkExposure(cfg fileConfig, tokens []ingest.Token, open bool) error {
	for _, l := range []struct{ key, addr string }{{"otlp.listen", cfg.OTLP.Listen}, {"otlp.listen_grpc", cfg.OTLP.ListenGRPC}} {
		if len(tokens) == 0 && l.addr != "" && !isLoopback(l.addr) && !open {
			return refuse("refusing to accept writes from the network without tokens on %s %s.\n"+
				"Configure auth.tokens or auth.token_file, listen on a loopback address, or pass --open to accept that.", l.key, l.addr)
		}
	}
	for _, t := range tokens {
		for _, w := range []struct{ key, token, what string }{{"syslog.token", cfg.Syslog.Token, "syslog"}, {"fluent.token", cfg.Fluent.Token, "forward"}} {
			if w.token != "" && t.Token == w.token && !t.CanWrite() {
				return refuse("%s is the token of %s, whose role is read: %s writes, so it needs a token with the role write or both", w.key, t.Name, w.what)
			}
		}
	}
	if cfg.Fluent.Listen != "" && len(tokens) > 0 && cfg.Fluent.Token == "" && !cfg.Fluent.Handshake {
		return refuse("fluent.listen with auth tokens needs fluent.token (the token whose producer forward writes as) or fluent.handshake (each sender's shared_key is its token)")
	}
	if cfg.Fluent.Handshake && len(tokens) == 0 {
		return refuse("fluent.handshake needs auth tokens: a sender's shared_key is one of them")
	}
	if cfg.Fluent.TLS && cfg.TLS.CertFile == "" {
		return refuse("fluent.tls needs a certificate: set tls.cert_file and tls.key_file")
	}
	if cfg.Syslog.ListenTLS != "" && cfg.TLS.CertFile == "" {
		return refuse("syslog.listen_tls needs a certificate: set tls.cert_file and tls.key_file")
	}
	if len(tokens) == 0 && !isLoopback(cfg.Listen) && !open {
		return refuse("no auth tokens are configured, so listening on %s would let anyone who can reach it write.\n"+
			"Configure auth.tokens or auth.token_file, listen on a loopback address, or pass --open to accept that.", cfg.Listen)
	}
	return nil
}

// buildBackground builds the work around intake: daily partials and
// shipping, told of each finished day, and the report schedules. Reports
// and partials run as nice-19 child processes, so intake keeps the CPU
// (see child.go).
func (d *service) buildBackground() error {
	cfg, log := d.cfg, d.log
	base := childArgs(d.common, &d.cfg)
	workers := fmt.Sprint(cfg.Report.Workers)
	var dayDone []func(string)
	if cfg.Report.Partials {
		pw := report.NewPartialWorker(func(ctx context.Context, dir string) error {
			_, err := runChild(ctx, log, append([]string{"report", "--day-dir", dir, "--workers", workers}, base...)...)
			return err
		}, log)
		d.closers = append([]func(){pw.Close}, d.closers...) // before the lock's release
		dayDone = append(dayDone, pw.Enqueue)
	}
	if cfg.Storage.Endpoint != "" {
		sh, err := ship.New(cfg.DataDir, cfg.shipConfig(), d.reg, log)
		if err != nil {
			return &exitErr{2, err}
		}
		d.shipper = sh
		dayDone = append(dayDone, func(string) { sh.Kick() })
		tc := cfg.tailConfig()
		tail, err := ship.NewTail(cfg.DataDir, cfg.shipConfig(), tc, ingest.KeysPath(cfg.DataDir), d.reg, log)
		if err != nil {
			return &exitErr{2, err}
		}
		d.tail = tail
		d.core.ShipTail(tail, tc.Ack, tc.WithDefaults().AckTimeout)
		sh.SetTail(tail, d.core.Flushed)
	}
	if len(dayDone) > 0 {
		d.core.OnDayDone(func(dir string) {
			for _, f := range dayDone {
				f(dir)
			}
		})
	}
	outDir := cfg.reportDir()
	if cfg.Report.Schedule != "off" {
		d.reg.MustRegister(report.LastSuccessGauge(outDir))
		sched, err := report.NewScheduler(cfg.Report.Schedule, outDir, periodReport(cfg, log, report.Month, outDir, workers, base), log)
		if err != nil {
			return &exitErr{2, err}
		}
		sched.SetFingerprint(func(ctx context.Context, month time.Time) (string, error) {
			return rangeInputs(cfg.DataDir, month, report.Month.Next(month))
		})
		d.scheds = append(d.scheds, sched)
	}
	for _, sc := range cfg.Report.Schedules {
		p, _ := report.ParsePeriod(sc.Period) // validated with the config
		sched, err := report.NewPeriodScheduler(sc.Name, p, sc.Cron, outDir, periodReport(cfg, log, p, outDir, workers, base), log)
		if err != nil {
			return refuse("report.schedules: %v", err)
		}
		sched.SetFingerprint(func(ctx context.Context, start time.Time) (string, error) {
			return rangeInputs(cfg.DataDir, start, p.Next(start))
		})
		d.scheds = append(d.scheds, sched)
	}
	return nil
}

// close releases what newService took.
func (d *service) close() {
	for _, f := range d.closers {
		f()
	}
	d.closers = nil
}

// run listens, recovers the data dir, starts the background work, serves
// until SIGINT or SIGTERM (or a listener fails), then stops gracefully:
// in-flight requests are answered and every buffer is flushed and sealed.
// It returns the exit status.
func (d *service) run() int {
	cfg, log := d.cfg, d.log
	api, err := httpapi.New(d.core, cfg.httpConfig(), d.reg, log)
	if err != nil { // checked by fileConfig.Validate
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 2
	}
	api.ServeReports(cfg.reportDir())
	qWorkers := cfg.Query.Workers
	if qWorkers == 0 {
		qWorkers = runtime.GOMAXPROCS(0)
	}
	api.ServeExplorer(&explore.Engine{Source: report.LocalSource{DataDir: cfg.DataDir}, Config: cfg.reportConfig(qWorkers),
		MaxRecords: cfg.Query.MaxRecords, Tail: d.core.Feed()},
		httpapi.ExploreLimits{MaxConcurrent: cfg.Query.MaxConcurrent, MaxTails: cfg.Query.MaxTails, Timeout: cfg.Query.Timeout})
	serveErr := make(chan error, 3)
	if err := d.listen(api, serveErr); err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 1
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if d.tail != nil {
		d.tail.Start()
		defer d.tail.Close() // after the core's stop, which drains it
		log.Info("shipping the WAL continuously", "ack", cfg.Storage.Ack, "tail_interval", cfg.Storage.TailInterval)
	}
	if code := d.recover(sig); code != 0 {
		return code
	}
	sys, err := d.startSyslog()
	if err != nil {
		log.Error("syslog: cannot listen", "err", err)
		return 1
	}
	if d.fluent, err = d.startFluent(); err != nil {
		log.Error("fluent: cannot listen", "err", err)
		return 1
	}
	for _, sched := range d.scheds {
		sched.Start()
		defer sched.Stop()
	}
	if d.shipper != nil {
		d.shipper.Start()
		defer d.shipper.Close()
		log.Info("shipping sealed days", "endpoint", cfg.Storage.Endpoint, "bucket", cfg.Storage.Bucket, "node", cfg.node())
	}
	if cfg.Scrub.Interval > 0 {
		if sc, err := startScrub(&d.cfg, d.reg, log); err != nil {
			log.Error("scrub: cannot start; sealed files are not verified in the background", "err", err)
		} else {
			defer sc.Close()
		}
	}
	select {
	case err := <-serveErr:
		log.Error("http server stopped", "err", err)
		return 1
	case s := <-sig:
		log.Info("stopping: finishing in-flight requests, flushing and sealing", "signal", s.String())
	}
	return d.stop(api, sys, sig)
}

// listen opens the HTTP listeners (and pprof), serving on each; the data
// dir's lock file records the main address.
func (d *service) listen(api *httpapi.Server, serveErr chan<- error) error {
	cfg, log := d.cfg, d.log
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if d.opt.pprof != "" {
		go func() {
			log.Info("pprof listening", "addr", d.opt.pprof)
			if err := http.ListenAndServe(d.opt.pprof, nil); err != nil {
				log.Error("pprof", "err", err)
			}
		}()
	}
	if d.certs != nil {
		ln = d.certs.listener(ln)
	}
	if err := d.lock.SetAddr(ln.Addr().String()); err != nil {
		log.Warn("cannot record the listen address in the data dir's lock file", "err", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", d.certs != nil, "auth", len(d.tokens) > 0, "data_dir", cfg.DataDir, "fsync", cfg.WAL.Fsync, "version", version)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			reloadOnHUP(log, cfg, d.core, d.certs)
		}
	}()
	go func() { serveErr <- api.Serve(ln) }()
	if cfg.OTLP.Listen != "" {
		oln, err := net.Listen("tcp", cfg.OTLP.Listen)
		if err != nil {
			return fmt.Errorf("otlp.listen: %w", err)
		}
		if d.certs != nil {
			oln = d.certs.listener(oln)
		}
		log.Info("listening for OTLP/HTTP", "addr", oln.Addr().String(), "tls", d.certs != nil)
		go func() { serveErr <- api.Serve(oln) }()
	}
	if cfg.OTLP.ListenGRPC != "" {
		gln, err := net.Listen("tcp", cfg.OTLP.ListenGRPC)
		if err != nil {
			return fmt.Errorf("otlp.listen_grpc: %w", err)
		}
		gc := cfg.grpcConfig()
		if d.certs != nil {
			gc.TLS = d.certs.config()
		}
		d.grpc = otlpgrpc.New(d.core, gc, log)
		log.Info("listening for OTLP/gRPC", "addr", gln.Addr().String(), "tls", d.certs != nil)
		go func() { serveErr <- d.grpc.Serve(gln) }()
	}
	return nil
}

// recover runs the core's recovery while the listeners answer 503; a
// signal meanwhile exits (the WAL replays at the next start).
func (d *service) recover(sig <-chan os.Signal) int {
	recovered := make(chan error, 1)
	go func() { recovered <- d.core.Recover() }()
	select {
	case err := <-recovered:
		if err != nil {
			var se *ingest.StartupError
			if errors.As(err, &se) {
				d.log.Error("start stopped: data needs an operator", "err", se.Err, "fix", se.Hint)
			} else {
				d.log.Error("start failed", "err", err)
			}
			return 1
		}
	case s := <-sig:
		d.log.Info("signal during recovery; exiting (nothing acknowledged is lost: the WAL replays next start)", "signal", s.String())
		return 1
	}
	return 0
}

// startSyslog opens the syslog listeners the configuration names, if any.
func (d *service) startSyslog() (*syslogd.Server, error) {
	sc := d.cfg.Syslog
	if sc.ListenTCP == "" && sc.ListenUDP == "" && sc.ListenTLS == "" {
		return nil, nil
	}
	sys, err := syslogd.New(d.core, d.cfg.syslogConfig(), d.reg, d.log)
	if err != nil {
		return nil, err
	}
	return sys, sys.Listen(d.tlsWrap())
}

// tlsWrap makes a listener TLS with the main certificate; nil without one.
func (d *service) tlsWrap() func(net.Listener) net.Listener {
	if d.certs == nil {
		return nil
	}
	return d.certs.listener
}

// startFluent opens the forward listener when fluent.listen is set.
func (d *service) startFluent() (*fluentd.Server, error) {
	if d.cfg.Fluent.Listen == "" {
		return nil, nil
	}
	fs, err := fluentd.New(d.core, d.cfg.fluentConfig(), d.reg, d.log)
	if err != nil {
		return nil, err
	}
	return fs, fs.Listen(d.tlsWrap())
}

// stop is the graceful stop after the first signal; a second one exits at
// once (the WAL keeps every acknowledged record).
func (d *service) stop(api *httpapi.Server, sys *syslogd.Server, sig <-chan os.Signal) int {
	for _, sched := range d.scheds {
		sched.Stop() // a report being written is abandoned; it runs again at the next start
	}
	go func() {
		s := <-sig
		d.log.Warn("second signal: exiting now; the WAL keeps every acknowledged record", "signal", s.String())
		os.Exit(1)
	}()
	if sys != nil {
		sys.Close() // what the connections had parsed is committed first
	}
	if d.fluent != nil {
		d.fluent.Close() // a message being committed is stored and acknowledged first
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.opt.stopTimeout)
	defer cancel()
	if d.grpc != nil {
		d.grpc.StopWithin(ctx) // calls in flight are committed and answered
	}
	if err := api.Shutdown(ctx); err != nil {
		d.log.Error("stop incomplete", "err", err)
		return 1
	}
	d.log.Info("stopped cleanly")
	return 0
}
