#!/usr/bin/env bash
# The read API's tail under load: the time from a write's acknowledgement to
# its record on /api/v1/tail. Usage: bench/tail.sh [RUNS] [RATE]
# Each run starts a daemon (fsync always), offers RATE records/s (default
# 200,000) with ingest-bench for 20 s, and meanwhile posts a probe record
# every 10 ms and reads the tail (NDJSON, filtered to the probes); prints the
# p50 and p99 of acknowledgement → record on the stream per run, and their
# medians. A probe answered after its record came counts as 0.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}; RATE=${2:-200000}
OUT=$(mktemp -d /tmp/ingestd-tail.XXXX)
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
PORT=18297
for run in $(seq "$RUNS"); do
  "$OUT/ingestd" serve --data-dir "$OUT/data-$run" --listen 127.0.0.1:$PORT 2>>"$OUT/daemon.log" &
  PID=$!
  trap 'kill $PID 2>/dev/null' EXIT
  for _ in $(seq 100); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.05; done
  "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --rate "$RATE" --duration 20s --warmup 2s --conns 16 --pid $PID --quiet \
    --out "$OUT/load-$run.json" > /dev/null &
  LOAD=$!
  sleep 3
  python3 - "$PORT" "$OUT/tail-$run.json" <<'PY'
import http.client, json, sys, threading, time
port, out = int(sys.argv[1]), sys.argv[2]
acked, seen, done = {}, {}, threading.Event()
def reader():
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/api/v1/tail?format=ndjson&where=exists(probe)")
    r = c.getresponse()
    while not done.is_set():
        line = r.readline()
        if not line:
            break
        if line.strip():
            seen.setdefault(json.loads(line)["probe"], time.monotonic())
threading.Thread(target=reader, daemon=True).start()
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(1200):
    c.request("POST", "/v1/ingest", body=json.dumps({"probe": i}) + "\n")
    r = c.getresponse(); r.read()
    if r.status == 200:
        acked[i] = time.monotonic()
    time.sleep(0.01)
time.sleep(2); done.set()
d = sorted(max(0.0, seen[i] - t) * 1000 for i, t in acked.items() if i in seen)
q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
res = {"probes": len(acked), "seen": len(d), "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": d[-1]}
json.dump(res, open(out, "w")); print(res)
PY
  wait $LOAD
  kill -TERM $PID; wait $PID
done
python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
t = [json.load(open(f"{out}/tail-{i}.json")) for i in range(1, runs + 1)]
l = [json.load(open(f"{out}/load-{i}.json")) for i in range(1, runs + 1)]
print(f"tail: p50 ms {[round(x['p50_ms'], 1) for x in t]} median {statistics.median(x['p50_ms'] for x in t):.1f}; "
      f"p99 ms {[round(x['p99_ms'], 1) for x in t]} median {statistics.median(x['p99_ms'] for x in t):.1f}; "
      f"probes seen {[x['seen'] for x in t]} of {[x['probes'] for x in t]}")
print(f"load: records/s {[round(x['records_per_s']) for x in l]}")
PY
echo "results in $OUT"
