package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ingestd/ingestd/ingest/ship"
)

// runRestore is `ingestd restore`: a node whose disk is gone gets a data
// dir rebuilt from its objects (ship.Source.Restore).
func runRestore(args []string) int {
	var source, node *string
	var dryRun, force *bool
	cfg, code := prepare("restore", "restore --source s3://bucket/prefix --node NODE --data-dir DIR [--dry-run] [--force]\n\n"+
		"Rebuilds the data dir of a node whose disk is gone from its objects: the WAL objects\n"+
		"continuous shipping wrote, its Idempotency-Key journal, and the segment objects of the\n"+
		"days those entries touch. Then `ingestd serve` with the same node_id goes on where the\n"+
		"node stopped: every acknowledged record once. DIR must be empty or absent; a node whose\n"+
		"heartbeat is recent (it is still running) is refused unless --force.", args, func(fs *flag.FlagSet) {
		source = fs.String("source", "", "the bucket the node shipped to, `s3://bucket/prefix` (endpoint and credentials from the config's storage section)")
		node = fs.String("node", "", "the `node_id` of the lost node (default: the config's node_id)")
		dryRun = fs.Bool("dry-run", false, "say what would be restored; write nothing")
		force = fs.Bool("force", false, "restore even though the node's heartbeat is recent")
	})
	if code >= 0 {
		return code
	}
	if *source == "" {
		fmt.Fprintln(os.Stderr, "ingestd restore: --source s3://bucket/prefix is required")
		return 2
	}
	n := *node
	if n == "" {
		n = cfg.NodeID
	}
	if n == "" {
		fmt.Fprintln(os.Stderr, "ingestd restore: --node is required (or node_id in the config)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	src, err := ship.OpenSource(ctx, *source, cfg.shipConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd restore:", err)
		return 1
	}
	p, err := src.Restore(ctx, n, cfg.DataDir, *dryRun, *force)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestd", err)
		if errors.Is(err, ship.ErrAlive) {
			return 3
		}
		return 1
	}
	verb := "restored"
	if *dryRun {
		verb = "would restore"
	}
	if p.First != 0 {
		fmt.Printf("%s WAL entries %d..%d from %d objects, %d bytes of key journal\n", verb, p.First, p.Last, p.WALObjects, p.KeyBytes)
	} else {
		fmt.Printf("%s no WAL entries (every entry is in shipped segments)\n", verb)
	}
	for _, k := range p.Skipped {
		fmt.Printf("skipped %s: after a gap (a write that was never acknowledged)\n", k)
	}
	fmt.Printf("%s %d segment objects (%d bytes) of %d days %v\n", verb, p.Files, p.Bytes, len(p.Days), p.Days)
	fmt.Printf("node %s goes on at sequence %d (segments hold up to %d)\n", p.Node, p.Next, p.SegmentMax)
	if !*dryRun {
		fmt.Printf("next: ingestd serve --data-dir %s with node_id %s\n", cfg.DataDir, p.Node)
	}
	return 0
}
