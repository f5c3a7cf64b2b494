package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ingestd/ingestd/internal/dirlock"

	"github.com/ingestd/ingestd/ingest/wal"
	"github.com/ingestd/ingestd/segment"
)

func runRepair(args []string) int {
	cfg, code := prepare("repair", "repair [--config FILE] [--data-dir DIR]\n\nRun with the daemon stopped. Cuts damaged segment files and WAL files at their\nfirst damaged frame or entry, after copying each to <file>.broken; finishes\ninterrupted compactions. Records after a cut are lost unless the WAL still\nholds them (the next start replays them). Torn tails need no repair: a\nnormal start cuts them.", args, nil)
	if code >= 0 {
		return code
	}
	if h, held := dirlock.Held(cfg.DataDir); held {
		fmt.Fprintf(os.Stderr, "ingestd repair: a running ingestd owns %s (%s); stop it first\n", cfg.DataDir, h)
		return 1
	}
	acts, err := segment.RepairDir(cfg.DataDir)
	for _, a := range acts {
		fmt.Printf("segment %s: %v; cut at offset %d keeping %d blocks; copy in %s\n", a.Path, a.Err, a.Offset, a.Kept, a.Backup)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd repair:", err)
		return 1
	}
	walDir := filepath.Join(cfg.DataDir, "wal")
	if _, err := os.Stat(walDir); err == nil {
		wacts, err := wal.Repair(walDir)
		for _, a := range wacts {
			fmt.Printf("wal %s: %v; cut at offset %d; copy in %s\n", a.Path, a.Err, a.Offset, a.Backup)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingestd repair:", err)
			return 1
		}
		acts = append(acts, make([]segment.RepairAction, len(wacts))...)
	}
	if len(acts) == 0 {
		fmt.Println("nothing to repair")
	}
	return 0
}
