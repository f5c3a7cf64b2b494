package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with --pprof
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/httpapi"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/ingest/syslogd"
	"github.com/ingestd/ingestd/internal/dirlock"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/segment"
)

func runServe(args []string) int {
	fs := newFlagSet("serve", "serve [--config FILE] [--listen ADDR] [--data-dir DIR]")
	var cf commonFlags
	cf.register(fs)
	listen := fs.String("listen", "", "listen `address` (default from config: 127.0.0.1:8080)")
	pprofAddr := fs.String("pprof", "", "serve Go's /debug/pprof on this `address` (e.g. 127.0.0.1:6060); off by default")
	stopTimeout := fs.Duration("stop-timeout", 30*time.Second, "how long a graceful stop waits for in-flight requests")
	open := fs.Bool("open", false, "allow listening on a non-loopback address with no auth tokens configured (anyone who can connect may write)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := loadCfgWithListen(&cf, *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 2
	}
	tokens, err := cfg.tokens()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 2
	}
	if len(tokens) == 0 && cfg.OTLP.Listen != "" && !isLoopback(cfg.OTLP.Listen) && !*open {
		fmt.Fprintf(os.Stderr, "ingestd: refusing to accept writes from the network without tokens on otlp.listen %s.\n"+
			"Configure auth.tokens or auth.token_file, listen on a loopback address, or pass --open to accept that.\n", cfg.OTLP.Listen)
		return 2
	}
	for _, t := range tokens {
		if cfg.Syslog.Token != "" && t.Token == cfg.Syslog.Token && !t.CanWrite() {
			fmt.Fprintf(os.Stderr, "ingestd: syslog.token is the token of %s, whose role is read: syslog writes, so it needs a token with the role write or both\n", t.Name)
			return 2
		}
	}
	if cfg.Syslog.ListenTLS != "" && cfg.TLS.CertFile == "" {
		fmt.Fprintln(os.Stderr, "ingestd: syslog.listen_tls needs a certificate: set tls.cert_file and tls.key_file")
		return 2
	}
	if len(tokens) == 0 && !isLoopback(cfg.Listen) && !*open {
		fmt.Fprintf(os.Stderr, "ingestd: no auth tokens are configured, so listening on %s would let anyone who can reach it write.\n"+
			"Configure auth.tokens or auth.token_file, listen on a loopback address, or pass --open to accept that.\n", cfg.Listen)
		return 2
	}
	lock, err := dirlock.Acquire(cfg.DataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 1
	}
	defer lock.Release()
	own := cfg.Auth.Tokens // the config file's own; the token file's are re-read on SIGHUP
	cfg.Auth.Tokens = tokens
	var certs *certReloader
	if cfg.TLS.CertFile != "" {
		if certs, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			fmt.Fprintln(os.Stderr, "ingestd:", err)
			return 2
		}
	}
	srv, err := ingest.New(cfg.Config, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 2
	}
	// Reports and daily partials run as nice-19 child processes, so intake
	// keeps the CPU (see child.go).
	base := childArgs(&cf, &cfg)
	workers := fmt.Sprint(cfg.Report.Workers)
	var dayDone []func(string)
	if cfg.Report.Partials {
		pw := report.NewPartialWorker(func(ctx context.Context, dir string) error {
			_, err := runChild(ctx, log, append([]string{"report", "--day-dir", dir, "--workers", workers}, base...)...)
			return err
		}, log)
		defer pw.Close()
		dayDone = append(dayDone, pw.Enqueue)
	}
	var shipper *ship.Shipper
	if st := cfg.Storage; st.Endpoint != "" {
		shipper, err = ship.New(cfg.DataDir, cfg.shipConfig(), log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd:", err)
			return 2
		}
		m := srv.Metrics()
		m.AddGauge("ingestd_ship_backlog_files", "Sealed segment files not yet confirmed by the object store.", func() float64 { return float64(shipper.BacklogFiles.Load()) })
		m.AddGauge("ingestd_ship_backlog_bytes", "Bytes of those files.", func() float64 { return float64(shipper.BacklogBytes.Load()) })
		m.AddGauge("ingestd_ship_uploaded_files", "Objects uploaded and confirmed since start.", func() float64 { return float64(shipper.Uploaded.Load()) })
		m.AddGauge("ingestd_ship_upload_errors", "Failed uploads since start (each retried).", func() float64 { return float64(shipper.Errors.Load()) })
		m.AddGauge("ingestd_ship_oldest_unshipped_age_seconds", "Age of the oldest file not yet shipped (0: none).", func() float64 {
			if t := shipper.OldestUnix.Load(); t > 0 {
				return time.Since(time.Unix(t, 0)).Seconds()
			}
			return 0
		})
		dayDone = append(dayDone, func(string) { shipper.Kick() })
	}
	if len(dayDone) > 0 {
		srv.OnDayDone(func(dir string) {
			for _, f := range dayDone {
				f(dir)
			}
		})
	}
	var scheds []*report.Scheduler
	outDir := cfg.reportDir()
	if cfg.Report.Schedule != "off" {
		srv.Metrics().AddGauge("ingestd_report_last_success_timestamp_seconds",
			"When the scheduled monthly report last succeeded (0: never).", func() float64 {
				st, err := os.Stat(filepath.Join(outDir, report.MarkerName))
				if err != nil {
					return 0
				}
				return float64(st.ModTime().Unix())
			})
		sched, err := report.NewScheduler(cfg.Report.Schedule, outDir, periodReport(cfg, log, report.Month, outDir, workers, base), log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd:", err)
			return 2
		}
		sched.SetFingerprint(func(ctx context.Context, month time.Time) (string, error) {
			return rangeInputs(cfg.DataDir, month, report.Month.Next(month))
		})
		scheds = append(scheds, sched)
	}
	for _, sc := range cfg.Report.Schedules {
		p, _ := report.ParsePeriod(sc.Period) // validated with the config
		sched, err := report.NewPeriodScheduler(sc.Name, p, sc.Cron, outDir, periodReport(cfg, log, p, outDir, workers, base), log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd: report.schedules:", err)
			return 2
		}
		sched.SetFingerprint(func(ctx context.Context, start time.Time) (string, error) {
			return rangeInputs(cfg.DataDir, start, p.Next(start))
		})
		scheds = append(scheds, sched)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd: listen:", err)
		return 1
	}
	if *pprofAddr != "" {
		go func() {
			log.Info("pprof listening", "addr", *pprofAddr)
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				log.Error("pprof", "err", err)
			}
		}()
	}
	if certs != nil {
		ln = certs.listener(ln)
	}
	if err := lock.SetAddr(ln.Addr().String()); err != nil {
		log.Warn("cannot record the listen address in the data dir's lock file", "err", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", certs != nil, "auth", len(tokens) > 0, "data_dir", cfg.DataDir, "fsync", cfg.WAL.Fsync, "version", version)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			reloadOnHUP(log, cfg, own, srv, certs)
		}
	}()
	api := httpapi.New(srv, log)
	api.ServeReports(cfg.reportDir())
	serveErr := make(chan error, 2)
	go func() { serveErr <- api.Serve(ln) }()
	if cfg.OTLP.Listen != "" {
		oln, err := net.Listen("tcp", cfg.OTLP.Listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd: otlp.listen:", err)
			return 1
		}
		if certs != nil {
			oln = certs.listener(oln)
		}
		log.Info("listening for OTLP/HTTP", "addr", oln.Addr().String(), "tls", certs != nil)
		go func() { serveErr <- api.Serve(oln) }()
	}

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	recovered := make(chan error, 1)
	go func() { recovered <- srv.Recover() }()
	select {
	case err := <-recovered:
		if err != nil {
			var se *ingest.StartupError
			if errors.As(err, &se) {
				log.Error("start stopped: data needs an operator", "err", se.Err, "fix", se.Hint)
			} else {
				log.Error("start failed", "err", err)
			}
			return 1
		}
	case s := <-sig:
		log.Info("signal during recovery; exiting (nothing acknowledged is lost: the WAL replays next start)", "signal", s.String())
		return 1
	}
	var sys *syslogd.Server
	if cfg.Syslog.ListenTCP != "" || cfg.Syslog.ListenUDP != "" || cfg.Syslog.ListenTLS != "" {
		sys = syslogd.New(srv, cfg.Syslog, log)
		var wrap func(net.Listener) net.Listener
		if certs != nil {
			wrap = certs.listener
		}
		if err := sys.Listen(wrap); err != nil {
			log.Error("syslog: cannot listen", "err", err)
			return 1
		}
	}
	for _, sched := range scheds {
		sched.Start()
		defer sched.Stop()
	}
	if shipper != nil {
		shipper.Start()
		defer shipper.Close()
		log.Info("shipping sealed days", "endpoint", cfg.Storage.Endpoint, "bucket", cfg.Storage.Bucket, "node", cfg.node())
	}
	if cfg.Scrub.Interval > 0 {
		sc, err := startScrub(&cfg, srv.Metrics(), log)
		if err != nil {
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
	for _, sched := range scheds {
		sched.Stop() // a report being written is abandoned; it runs again at the next start
	}
	go func() {
		s := <-sig
		log.Warn("second signal: exiting now; the WAL keeps every acknowledged record", "signal", s.String())
		os.Exit(1)
	}()
	if sys != nil {
		sys.Close() // what the connections had parsed is committed first
	}
	ctx, cancel := context.WithTimeout(context.Background(), *stopTimeout)
	defer cancel()
	if err := api.Shutdown(ctx); err != nil {
		log.Error("stop incomplete", "err", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

// reloadOnHUP re-reads the token file and the TLS certificate. A file that
// fails to load leaves the current tokens or certificate in place.
func reloadOnHUP(log *slog.Logger, cfg fileConfig, own []ingest.Token, srv *ingest.Server, certs *certReloader) {
	if cfg.Auth.TokenFile != "" {
		cfg.Auth.Tokens = own
		if ts, err := cfg.tokens(); err != nil {
			log.Error("SIGHUP: tokens not reloaded; the previous ones stay", "err", err)
		} else if err := srv.SetTokens(ts); err != nil {
			log.Error("SIGHUP: tokens not reloaded; the previous ones stay", "err", err)
		} else {
			log.Info("SIGHUP: tokens reloaded", "tokens", len(ts))
		}
	}
	if certs != nil {
		if err := certs.reload(); err != nil {
			log.Error("SIGHUP: certificate not reloaded; the previous one stays", "err", err)
		} else {
			log.Info("SIGHUP: certificate reloaded", "cert", cfg.TLS.CertFile)
		}
	}
}

func loadCfgWithListen(cf *commonFlags, listen string) (fileConfig, error) {
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return cfg, err
	}
	if cf.dataDir != "" {
		cfg.DataDir = cf.dataDir
	}
	if listen != "" {
		cfg.Listen = listen
	}
	return cfg, cfg.Validate()
}

// rangeInputs fingerprints the segment files of the days in [from, to) (names and sizes, sealed
// and open): a new part or a compaction changes it.
func rangeInputs(dataDir string, from, to time.Time) (string, error) {
	days, err := report.LocalSource{DataDir: dataDir}.Days(context.Background(), from, to)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, d := range days {
		sealed, open, err := segment.DayFiles(d.Dir)
		if err != nil {
			return "", err
		}
		for _, p := range append(sealed, open...) {
			if st, err := os.Stat(p); err == nil {
				fmt.Fprintf(h, "%s %d\n", filepath.Base(p), st.Size())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// periodReport runs one scheduled report of period p, starting at its
// argument, as a child process at low priority; a period without data is
// report.ErrNoData (not marked reported).
func periodReport(cfg fileConfig, log *slog.Logger, p report.Period, outDir, workers string, base []string) func(context.Context, time.Time) error {
	return func(ctx context.Context, start time.Time) error {
		end := p.Next(start)
		days, err := report.LocalSource{DataDir: cfg.DataDir}.Days(ctx, start, end)
		if err != nil {
			return err
		}
		if len(days) == 0 {
			return report.ErrNoData
		}
		args := []string{"report", "--out", outDir, "--workers", workers}
		if p == report.Month {
			args = append(args, "--month", start.Format("2006-01"))
		} else {
			args = append(args, "--from", start.Format(time.DateOnly), "--to", end.Format(time.DateOnly))
		}
		out, err := runChild(ctx, log, append(args, base...)...)
		if err == nil {
			log.Info("report", "result", strings.TrimSpace(out))
		}
		return err
	}
}
