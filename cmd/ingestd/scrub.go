package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/scrub"
)

// startScrub runs the background scrub of sealed files (and, with storage,
// of the shipped objects) and exports its gauges.
func startScrub(cfg *fileConfig, m *ingest.Metrics, log *slog.Logger) (*scrub.Scrubber, error) {
	listers := []scrub.Lister{scrub.LocalFiles{DataDir: cfg.DataDir}}
	if st := cfg.Storage; st.Endpoint != "" && cfg.Scrub.Shipped {
		src, err := ship.OpenSource(context.Background(), "s3://"+st.Bucket+"/"+st.Prefix, cfg.shipConfig())
		if err != nil {
			return nil, err
		}
		listers = append(listers, src.Objects())
	}
	sc, err := scrub.New(scrub.Config{Interval: cfg.Scrub.Interval, Rate: int64(cfg.Scrub.Rate),
		Check: record.Check(cfg.Rules()), Log: log}, listers...)
	if err != nil {
		return nil, err
	}
	m.AddGauge("ingestd_scrub_corrupt_files", "Files the last full scrub pass found corrupt (local and shipped).",
		func() float64 { return float64(sc.CorruptFiles()) })
	m.AddGauge("ingestd_scrub_last_pass_age_seconds", "Seconds since the last full scrub pass ended (-1: none yet).", func() float64 {
		if t := sc.LastPass(); !t.IsZero() {
			return time.Since(t).Seconds()
		}
		return -1
	})
	m.AddGauge("ingestd_scrub_interval_seconds", "scrub.interval.", func() float64 { return cfg.Scrub.Interval.Seconds() })
	m.AddGauge("ingestd_scrub_files_checked", "Files verified by the scrub since start.", func() float64 { return float64(sc.Checked()) })
	sc.Start()
	log.Info("scrub: verifying sealed files in the background", "interval", cfg.Scrub.Interval, "rate", int64(cfg.Scrub.Rate), "shipped", len(listers) > 1)
	return sc, nil
}
