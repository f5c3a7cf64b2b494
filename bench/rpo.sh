#!/usr/bin/env bash
# What losing the machine loses under storage.ack: local (or bucket), under
# load. Usage: bench/rpo.sh [ROUNDS]. Each round: ingestd serves with
# storage on versitygw (loopback), ingest-bench loads it (closed loop,
# SHAPE unique, 8 connections, or RATE records/s open loop) for 20 s while
# ingestd_ship_tail_lag_seconds is sampled every 100 ms; at a random instant
# in the last 10 s the daemon is kill -9ed and its data dir deleted;
# `ingestd restore` rebuilds it, a serve/stop seals it, and ingest-bench
# --verify counts the acknowledged records lost. Prints per round the
# records acknowledged, lost, the loss in seconds of intake, and the lag's
# p50/p99/max while the load ran.
#   ACK=bucket           ack bucket instead (the loss must be 0)
#   TAIL=10s             storage.tail_interval
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
OUT=$(mktemp -d /tmp/ingestd-rpo.XXXX)
go build -o "$OUT/ingestd" ./cmd/ingestd
go build -o "$OUT/ingest-bench" ./cmd/ingest-bench
VGW=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
[ -x "$VGW" ] || { echo "versitygw missing: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2; exit 1; }
S3PORT=18490; PORT=18491
mkdir -p "$OUT/s3"
ROOT_ACCESS_KEY=benchkey ROOT_SECRET_KEY=benchsecret0123456789 "$VGW" --port 127.0.0.1:$S3PORT posix "$OUT/s3" 2>"$OUT/s3.log" &
VPID=$!
trap 'kill $VPID 2>/dev/null || true' EXIT
sleep 1
ready() { for _ in $(seq 600); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.05; done; echo "daemon not ready" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
  B=rpo$r; D=$OUT/data-$r
  mkdir -p "$OUT/s3/$B"
  printf 'node_id: rpo\nstorage:\n  endpoint: 127.0.0.1:%s\n  bucket: %s\n  access_key: benchkey\n  secret_key: benchsecret0123456789\n  ack: %s\n  tail_interval: %s\n' \
    $S3PORT $B "${ACK:-local}" "${TAIL:-10s}" > "$OUT/cfg-$r.yaml"
  "$OUT/ingestd" serve --data-dir "$D" --config "$OUT/cfg-$r.yaml" --listen 127.0.0.1:$PORT 2>"$OUT/daemon-$r.log" &
  PID=$!; ready
  LOAD=(--duration 20s --warmup 0s --conns 8)
  [ -n "${RATE:-}" ] && LOAD=(--rate "$RATE" --duration 20s --warmup 0s --conns 32)
  "$OUT/ingest-bench" --url http://127.0.0.1:$PORT --shape "${SHAPE:-unique}" "${LOAD[@]}" --timeout 5s --quiet --ack-log "$OUT/acks-$r.log" > /dev/null 2>&1 &
  BPID=$!
  KILL_AT=$(python3 -c "import random; print(round(random.uniform(10, 19), 1))")
  python3 - "$PORT" "$KILL_AT" "$OUT/lag-$r.txt" <<'PY'
import sys, time, urllib.request
port, kill_at, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
t0, lags = time.time(), []
while time.time() - t0 < kill_at:
    try:
        for line in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read().decode().splitlines():
            if line.startswith("ingestd_ship_tail_lag_seconds "):
                lags.append(float(line.split()[1]))
    except Exception:
        pass
    time.sleep(0.1)
open(out, "w").write("\n".join(map(str, lags)))
PY
  kill -9 $PID; wait $PID 2>/dev/null || true
  wait $BPID || true
  rm -rf "$D"
  printf 'storage:\n  endpoint: 127.0.0.1:%s\n  bucket: %s\n  access_key: benchkey\n  secret_key: benchsecret0123456789\n' $S3PORT $B > "$OUT/cli.yaml"
  "$OUT/ingestd" restore --config "$OUT/cli.yaml" --source s3://$B --node rpo --data-dir "$D" --force > "$OUT/restore-$r.txt" 2>&1
  "$OUT/ingestd" serve --data-dir "$D" --config "$OUT/cfg-$r.yaml" --listen 127.0.0.1:$PORT 2>>"$OUT/daemon-$r.log" &
  PID=$!; ready; kill -TERM $PID; wait $PID
  "$OUT/ingest-bench" --verify "$D" --ack-log "$OUT/acks-$r.log" > "$OUT/verify-$r.txt" || true
  python3 - "$OUT" "$r" "$KILL_AT" <<'PY'
import re, statistics, sys
out, r, kill_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
v = open(f"{out}/verify-{r}.txt").read()
acked = int(re.search(r"acknowledged (\d+)", v).group(1))
exp, lost, dup = (int(re.search(p, v).group(1)) for p in (r"expected (\d+)", r"lost (\d+)", r"duplicated (\d+)"))
lags = sorted(float(x) for x in open(f"{out}/lag-{r}.txt").read().split() if x)
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))] if lags else float("nan")
rate = exp / kill_at
print(f"round {r}: killed at {kill_at:.1f} s; acknowledged {exp} records ({acked} requests), lost {lost}, duplicated {dup}"
      f" = {lost / rate:.2f} s of intake at {rate:,.0f} records/s; tail lag p50 {q(0.5):.2f} p99 {q(0.99):.2f} max {lags[-1] if lags else float('nan'):.2f} s")
PY
done
echo "results in $OUT"
