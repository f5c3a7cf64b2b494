#!/usr/bin/env bash
# The read API on a month: bench/explore.sh DATA_DIR [RUNS]
# DATA_DIR holds October 2026 (go run ./bench/gendays DATA_DIR 300000: 9.3 M
# records whose values vary). The month's report is run first, which stores
# every day's partial (as serve does when a day is compacted); then the
# daemon serves the data dir (zero-config reports, query.workers 0) and each
# measurement runs RUNS times (default 5), medians printed:
#   first view   the page's three calls over the month: hits (6 h buckets),
#                fields, and the newest 50 records; server time in all
#   records      a raw records query, limit 100, over the whole month
#   scan         a filtered group-by that must scan, as records per daemon
#                CPU-second, beside `ingestd query` on the same question
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/explore.sh DATA_DIR [RUNS]}; RUNS=${2:-5}
OUT=$(mktemp -d /tmp/ingestd-explore.XXXX)
go build -o "$OUT/ingestd" ./cmd/ingestd
printf 'report: {schedule: "off"}\nscrub: {interval: 0s}\n' > "$OUT/ingestd.yaml"
"$OUT/ingestd" report --data-dir "$DATA" --config "$OUT/ingestd.yaml" --month 2026-10 >/dev/null 2>"$OUT/report.log"
PORT=18298; U=http://127.0.0.1:$PORT/api/v1
"$OUT/ingestd" serve --data-dir "$DATA" --listen 127.0.0.1:$PORT --config "$OUT/ingestd.yaml" 2>"$OUT/daemon.log" &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.05; done
cpu() { awk '{print ($14 + $15) / 100}' /proc/$PID/stat; }
t() { curl -s -o /dev/null -w '%{time_total}\n' "$1"; }
M='from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z'
WHERE='where=level%20%3D%3D%20%22error%22%20and%20status%20%3E%3D%20500'
Q="$M&$WHERE&by=service&stats=count,p99(duration_ms)&rescan=1"
for i in $(seq "$RUNS"); do
  a=$(t "$U/hits?$M&step=6h"); b=$(t "$U/fields?$M"); c=$(t "$U/query?$M&limit=50&format=ndjson")
  echo "view $a $b $c" >> "$OUT/times"
  echo "records $(t "$U/query?$M&limit=100&format=ndjson") $(t "$U/query?$M&$WHERE&limit=100&format=ndjson")" >> "$OUT/times"
  c0=$(cpu); s=$(t "$U/query?$Q"); c1=$(cpu)
  /usr/bin/time -o "$OUT/cli.time" -f '%U %S' "$OUT/ingestd" query --data-dir "$DATA" --from 2026-10-01 --to 2026-11-01 \
    --where 'level == "error" and status >= 500' --by service --stats 'count,p99(duration_ms)' --rescan --format csv >/dev/null 2>&1
  cli=$(tail -1 "$OUT/cli.time")
  echo "scan $s $c0 $c1 $cli" >> "$OUT/times"
done
RECORDS=$(curl -s "$U/hits?$M&step=31d" | python3 -c 'import json,sys; print(sum(h["count"] for h in json.load(sys.stdin)["hits"]))')
python3 - "$OUT/times" "$RECORDS" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
view = [list(map(float, r[1:])) for r in rows if r[0] == "view"]
rec = [list(map(float, r[1:])) for r in rows if r[0] == "records"]
scan = [[s[0], s[2] - s[1], s[3], s[4]] for s in (list(map(float, r[1:])) for r in rows if r[0] == "scan")]
ms = lambda xs: round(st.median(xs) * 1000)
print(f"month: {n:,} records")
print(f"first view: hits {ms([v[0] for v in view])} ms + fields {ms([v[1] for v in view])} ms + records {ms([v[2] for v in view])} ms"
      f" = {ms([sum(v) for v in view])} ms (median of {len(view)})")
print(f"records, limit 100, the month: {ms([r[0] for r in rec])} ms; filtered: {ms([r[1] for r in rec])} ms")
api = st.median(n / s[1] for s in scan); cli = st.median(n / (s[2] + s[3]) for s in scan)
print(f"filtered group-by scan: API {ms([s[0] for s in scan])} ms, {api:,.0f} records per daemon CPU-second;"
      f" ingestd query {cli:,.0f} per CPU-second; API / CLI {api / cli:.2f}")
PY
echo "results in $OUT"
