#!/usr/bin/env bash
# The compression target: is a sealed, compacted day at least as small as
# zstd -9 on the same NDJSON? One daemon takes RECORDS records of SHAPE
# (unique by default: every value varies) spread over yesterday and today;
# yesterday seals a second after its last record and is compacted at
# segments.compact_level (best). Then the compacted file's bytes are set
# against `zstd -1`, `-9` and `-19` (one thread each) of the same records as
# `ingestd cat` prints them, and against the open parts' intake compression
# (fastest), as docs/BENCHMARKS.md ("Compression") quotes them.
# Usage: bench/compression.sh [OUTDIR]; RECORDS=1000000 SHAPE=unique
# COMPACT_BLOCK=1MiB (segments.compact_block_size) LEVELS="1 9 19" (zstd's).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/ingestd-compression}
RECORDS=${RECORDS:-1000000}
SHAPE=${SHAPE:-unique}
PORT=18390
rm -rf "$OUT" && mkdir -p "$OUT"
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
printf '%s\n' 'segments:' '  seal_grace: 0s' '  seal_idle: 1s' "  compact_block_size: ${COMPACT_BLOCK:-1MiB}" \
  'report:' '  schedule: "off"' >"$OUT/cfg.yaml"
D=$OUT/data
"$OUT/ingestd" serve --data-dir "$D" --config "$OUT/cfg.yaml" --listen 127.0.0.1:$PORT 2>"$OUT/daemon.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
"$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "$SHAPE" --days 2 --records "$RECORDS" --warmup 0s --quiet >/dev/null
day=$(date -u -d yesterday +%F)
dir=$D/segments/dt=$day
for _ in $(seq 600); do # compaction of a finished day: a few seconds a 100 MB
  ls "$dir"/*-compact-*.ndjson.zst >/dev/null 2>&1 && break
  sleep 1
done
ls "$dir"/*-compact-*.ndjson.zst >/dev/null 2>&1 || { echo "no compacted file for $day after 600 s" >&2; exit 1; }
today=$D/segments/dt=$(date -u +%F)
open_bytes=$(cat "$today"/*.ndjson.zst.open 2>/dev/null | wc -c) # none just after midnight
"$OUT/ingestd" cat --data-dir "$D" --from "$(date -u +%F)" >"$OUT/today.ndjson" 2>/dev/null
kill -TERM $PID; wait $PID
"$OUT/ingestd" cat --data-dir "$D" --from "$day" --to "$(date -u +%F)" >"$OUT/day.ndjson"
raw=$(wc -c <"$OUT/day.ndjson")
compacted=$(cat "$dir"/*.ndjson.zst | wc -c)
z() { zstd -q -T1 "-$1" -c "$2" | wc -c; }
sizes=()
for l in ${LEVELS:-1 9 19}; do sizes+=("$l=$(z "$l" "$OUT/day.ndjson")"); done
today_z1=$(z 1 "$OUT/today.ndjson")
python3 - "$raw" "$compacted" "$open_bytes" "$today_z1" "$(wc -l <"$OUT/day.ndjson")" "${COMPACT_BLOCK:-1MiB}" "${sizes[@]}" <<'PY'
import sys
raw, comp, opn, tz1, lines = map(int, sys.argv[1:6])
block = sys.argv[6]
levels = [(a.split("=")[0], int(a.split("=")[1])) for a in sys.argv[7:]]
mb = lambda b: "%.2f MB" % (b / 1e6)
print("yesterday: %d records, %s raw" % (lines, mb(raw)))
print("  compacted day (%s blocks)  %s  %.2fx" % (block, mb(comp), raw / comp))
for lvl, b in levels:
    print("  zstd -%-3s -T1  %s  %.2fx  (compacted is %.3f of it)" % (lvl, mb(b), raw / b, comp / b))
if tz1 and opn:
    print("today's open parts (fastest, before sealing): %.3f of zstd -1 on the same records" % (opn / tz1))
z9 = dict(levels).get("9")
if z9:
    print("compacted day at least as small as zstd -9: %s" % ("yes" if comp <= z9 else "NO"))
PY
