#!/usr/bin/env bash
# A/B throughput of two commits in one sitting, runs interleaved so that the
# machine's drift hits both alike. Usage: bench/ab.sh BEFORE [AFTER] [RUNS]
# (AFTER defaults to the work tree). Closed loop, fsync always, the shape
# SHAPE (default logs: 16 template bodies; unique varies every value), 8
# connections, 15 s after a 3 s warm-up; prints the median records/s, p99
# and records per daemon CPU-second of each.
#   RATE=N      open loop instead: N records/s offered, 16 connections; prints
#               each run's p50/p99/p99.9, CPU and RSS too, and the daemon's
#               own p99 per write stage, of WAL fsync and of Go scheduling
#               (from /metrics; a build without a metric shows nan)
#   CONFIG=F    serve with --config F (e.g. wal.fsync: never, to see the disk's
#               share of the tail)
#   RESTART=1   instead: restart time after kill -9 with ≈ 1.4 GB of WAL
#               (4000 requests of unique records over 365 days, nothing in
#               segments), as bench/run-benchmarks.sh measures it
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
ready() { for _ in $(seq 600); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.05; done; echo "daemon not ready" >&2; exit 1; }
for run in $(seq "$RUNS"); do
  for v in before after; do
    D=$OUT/data-$v-$run
    if [ -n "${RESTART:-}" ]; then
      "$OUT/ingestd-$v" serve --data-dir "$D" --config bench/restart.yaml --listen 127.0.0.1:$PORT 2>>"$OUT/daemon-$v.log" &
      PID=$!; ready
      "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --requests 4000 --days 365 --conns 8 --warmup 0s --quiet > /dev/null
      kill -9 $PID; wait $PID || true
      WAL=$(du -sb "$D/wal" | cut -f1)
      T0=$(date +%s.%N)
      "$OUT/ingestd-$v" serve --data-dir "$D" --config bench/restart.yaml --listen 127.0.0.1:$PORT 2>>"$OUT/daemon-$v.log" &
      PID=$!; ready
      T1=$(date +%s.%N)
      python3 -c "print('{\"wal_bytes\": %d, \"ready_seconds\": %.2f}' % ($WAL, $T1-$T0))" > "$OUT/$v-$run.json"
    else
      "$OUT/ingestd-$v" serve --data-dir "$D" ${CONFIG:+--config "$CONFIG"} --listen 127.0.0.1:$PORT 2>>"$OUT/daemon-$v.log" &
      PID=$!
      LOAD=(--duration 15s --warmup 3s --conns 8)
      [ -n "${RATE:-}" ] && LOAD=(--rate "$RATE" --duration 20s --warmup 3s --conns 16)
      "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "${SHAPE:-logs}" "${LOAD[@]}" --pid $PID --quiet --out "$OUT/$v-$run.json" > /dev/null
      curl -s 127.0.0.1:$PORT/metrics > "$OUT/$v-$run.metrics"
    fi
    kill -TERM $PID; wait $PID
    rm -rf "$D"
  done
done
python3 - "$OUT" "$RUNS" "${RATE:-}" "${RESTART:-}" <<'PY'
import json, re, statistics, sys
def buckets(lines, name, sel=""):
    # One histogram's cumulative buckets in a scrape: (upper bound, count).
    b = []
    for line in lines:
        if line.startswith(name + "_bucket{") and sel in line:
            le = re.search(r'le="([^"]+)"', line).group(1)
            b.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return b
def slow_wakeups(lines):
    # go_sched_latencies_seconds has decade buckets (…, 0.92 ms, 10.5 ms, …),
    # too coarse for a p99: the share above 0.92 ms says more.
    b = buckets(lines, "go_sched_latencies_seconds")
    if not b or b[-1][1] == 0:
        return float("nan")
    under = next((c for le, c in b if 0.0009 < le < 0.001), float("nan"))
    return 100 * (1 - under / b[-1][1])
def p99(lines, name, sel):
    # histogram_quantile(0.99) over one scrape: the bucket where the count
    # passes 99 %, linear within it.
    b = buckets(lines, name, sel)
    if not b or b[-1][1] == 0:
        return float("nan")
    want, lo, below = 0.99 * b[-1][1], 0.0, 0.0
    for le, c in b:
        if c >= want:
            if le == float("inf"):
                return lo * 1e3
            return (lo + (le - lo) * (want - below) / max(c - below, 1)) * 1e3
        lo, below = le, c
out, runs, rate, restart = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for v in ("before", "after"):
    rs = [json.load(open(f"{out}/{v}-{i}.json")) for i in range(1, runs + 1)]
    if restart:
        print(f"{v:6} ready seconds {[r['ready_seconds'] for r in rs]} median {statistics.median(r['ready_seconds'] for r in rs):.2f}"
              f"  WAL bytes {[r['wal_bytes'] for r in rs]}")
        continue
    if rate:
        for i, r in enumerate(rs, 1):
            l = r["latency_ms"]
            print(f"{v:6} offered {rate}: records/s {round(r['records_per_s'])}  p50 {l['p50']} p99 {l['p99']} p99.9 {l['p99.9']} ms"
                  f"  daemon {r['daemon_cpu_cores']:.2f} cores  RSS HWM {r['daemon_rss_hwm_mb']:.0f} MB")
            m = open(f"{out}/{v}-{i}.metrics").read().splitlines()
            print("       daemon's p99 (ms, interpolated in buckets as histogram_quantile does):",
                  "  ".join(f"{n} {p99(m, h, sel):.1f}" for n, h, sel in (
                      ("parse", "ingestd_write_stage_seconds", 'stage="parse"'),
                      ("compress", "ingestd_write_stage_seconds", 'stage="compress"'),
                      ("commit", "ingestd_write_stage_seconds", 'stage="commit"'),
                      ("fsync", "ingestd_wal_fsync_duration_seconds", ""))),
                  f"  wake-ups that waited over 0.9 ms for a CPU {slow_wakeups(m):.1f} %")
        continue
    rps = [r["records_per_s"] for r in rs]
    print(f"{v:6} records/s {[round(x) for x in rps]} median {round(statistics.median(rps))}"
          f"  p99 ms median {statistics.median(r['latency_ms']['p99'] for r in rs):.1f}"
          f"  records per daemon CPU-second median {round(statistics.median(r['records_per_s'] / r['daemon_cpu_cores'] for r in rs))}")
PY
echo "results in $OUT"
