package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	_ "net/http/pprof" // served only with --pprof
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/report"
	"github.com/ingestd/ingestd/segment"
)

func runServe(args []string) int {
	fs := newFlagSet("serve", "serve [--config FILE] [--listen ADDR] [--data-dir DIR]")
	var cf commonFlags
	cf.register(fs)
	listen := fs.String("listen", "", "listen `address` (default from config: 127.0.0.1:8080)")
	var opt serveOptions
	fs.StringVar(&opt.pprof, "pprof", "", "serve Go's /debug/pprof on this `address` (e.g. 127.0.0.1:6060); off by default")
	fs.DurationVar(&opt.stopTimeout, "stop-timeout", 30*time.Second, "how long a graceful stop waits for in-flight requests")
	fs.BoolVar(&opt.open, "open", false, "allow listening on a non-loopback address with no auth tokens configured (anyone who can connect may write)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := loadCfgWithListen(&cf, *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		return 2
	}
	d, err := newService(cfg, &cf, opt, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd:", err)
		var ee *exitErr
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	defer d.close()
	return d.run()
}

// reloadOnHUP re-reads the token file and the TLS certificate. A file that
// fails to load leaves the current tokens or certificate in place.
func reloadOnHUP(log *slog.Logger, cfg fileConfig, srv *ingest.Core, certs *certReloader) {
	if cfg.Auth.TokenFile != "" {
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
