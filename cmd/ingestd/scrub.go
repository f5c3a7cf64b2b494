package main

import (
	"context"
	"log/slog"

	"github.com/ingestd/ingestd/ingest/ship"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/scrub"
	"github.com/prometheus/client_golang/prometheus"
)

// startScrub runs the background scrub of sealed files (and, with storage,
// of the shipped objects) and exports its gauges.
func startScrub(cfg *fileConfig, reg prometheus.Registerer, log *slog.Logger) (*scrub.Scrubber, error) {
	listers := []scrub.Lister{scrub.LocalFiles{DataDir: cfg.DataDir}}
	if st := cfg.Storage; st.Endpoint != "" && cfg.Scrub.Shipped {
		src, err := ship.OpenSource(context.Background(), "s3://"+st.Bucket+"/"+st.Prefix, cfg.shipConfig())
		if err != nil {
			return nil, err
		}
		listers = append(listers, src.Objects())
	}
	sc, err := scrub.New(scrub.Config{Interval: cfg.Scrub.Interval, Rate: int64(cfg.Scrub.Rate),
		Check: record.Check(cfg.rules()), Log: log}, reg, listers...)
	if err != nil {
		return nil, err
	}
	sc.Start()
	log.Info("scrub: verifying sealed files in the background", "interval", cfg.Scrub.Interval, "rate", int64(cfg.Scrub.Rate), "shipped", len(listers) > 1)
	return sc, nil
}
