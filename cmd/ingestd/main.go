// Command ingestd takes timestamped JSON over HTTP, keeps it safe in a
// write-ahead log and stores it as zstd-compressed daily segment files.
//
//	ingestd serve   [--config FILE] [--listen ADDR] [--data-dir DIR]
//	ingestd verify  --data-dir DIR
//	ingestd cat     --data-dir DIR [--from T] [--to T]
//	ingestd repair  --data-dir DIR
//	ingestd report  (--month YYYY-MM | --from DAY --to DAY) [--data-dir DIR] [--out DIR] [--export-records]
//	ingestd replay-rejected [--data-dir DIR] (--print | --list | --url URL)
//	ingestd restore --source s3://BUCKET/PREFIX --node NODE --data-dir DIR
//	ingestd version
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `ingestd: durable JSON intake into daily zstd segment files.

Usage:
  ingestd serve   [--config FILE] [--listen ADDR] [--data-dir DIR]   run the daemon
  ingestd verify  [--config FILE] [--data-dir DIR]                  check every segment file
  ingestd cat     [--data-dir DIR] [--from T] [--to T]              print records as NDJSON
  ingestd repair  [--data-dir DIR]                                  move damaged data aside
  ingestd report  (--month YYYY-MM | --from DAY --to DAY) [--out DIR] [--where E]   write a report of a month or of days
  ingestd query   --from T --to T [--where E] [--by P] [--stats S]  ask a question: records or a table
  ingestd replay-rejected (--print | --list | --url URL) [--remove]  lines rejected with ?invalid=skip
  ingestd restore --source s3://B/P --node N --data-dir DIR          rebuild a lost node's data dir from the bucket
  ingestd version                                                   print the version

Run 'ingestd COMMAND --help' for a command's options.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	var code int
	switch os.Args[1] {
	case "serve":
		code = runServe(args)
	case "verify":
		code = runVerify(args)
	case "cat":
		code = runCat(args)
	case "repair":
		code = runRepair(args)
	case "report":
		code = runReport(args)
	case "query":
		code = runQuery(args)
	case "replay-rejected":
		code = runReplayRejected(args)
	case "restore":
		code = runRestore(args)
	case "version", "--version", "-version":
		fmt.Println("ingestd", version)
	case "help", "--help", "-help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "ingestd: unknown command %q\n\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}
