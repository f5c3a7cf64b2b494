#!/usr/bin/env bash
# A/B throughput of two commits in one sitting, runs interleaved so that the
# machine's drift hits both alike. Usage: bench/ab.sh BEFORE [AFTER] [RUNS]
# (AFTER defaults to the work tree). Closed loop, fsync always, the shape
# SHAPE (default logs: 16 template bodies; unique varies every value), 8
# connections, 15 s after a 3 s warm-up; prints the median records/s, p99
# and records per daemon CPU-second of each.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=$1; AFTER=${2:-}; RUNS=${3:-3}
OUT=$(mktemp -d /tmp/ingestd-ab.XXXX)
git worktree add -q "$OUT/before-src" "$BEFORE"
(cd "$OUT/before-src" && go build -o "$OUT/ingestd-before" ./cmd/ingestd)
git worktree remove --force "$OUT/before-src"
if [ -n "$AFTER" ]; then
  git worktree add -q "$OUT/after-src" "$AFTER"
  (cd "$OUT/after-src" && go build -o "$OUT/ingestd-after" ./cmd/ingestd)
  git worktree remove --force "$OUT/after-src"
else
  go build -o "$OUT/ingestd-after" ./cmd/ingestd
fi
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
PORT=18290
for run in $(seq "$RUNS"); do
  for v in before after; do
    D=$OUT/data-$v-$run
    "$OUT/ingestd-$v" serve --data-dir "$D" --listen 127.0.0.1:$PORT 2>>"$OUT/daemon-$v.log" &
    PID=$!
    "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "${SHAPE:-logs}" --duration 15s --warmup 3s --conns 8 --pid $PID --quiet --out "$OUT/$v-$run.json" > /dev/null
    kill -TERM $PID; wait $PID
    rm -rf "$D"
  done
done
python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
for v in ("before", "after"):
    rs = [json.load(open(f"{out}/{v}-{i}.json")) for i in range(1, runs + 1)]
    rps = [r["records_per_s"] for r in rs]
    print(f"{v:6} records/s {[round(x) for x in rps]} median {round(statistics.median(rps))}"
          f"  p99 ms median {statistics.median(r['latency_ms']['p99'] for r in rs):.1f}"
          f"  records per daemon CPU-second median {round(statistics.median(r['records_per_s'] / r['daemon_cpu_cores'] for r in rs))}")
PY
echo "results in $OUT"
