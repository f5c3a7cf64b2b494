#!/usr/bin/env bash
# Long crash runs: the kill -9 and power-cut rounds (40 rounds each) and
# every failpoint, repeated N times (default 5), each with a new seed.
# Needs root and /dev/fuse for the power cuts (they skip otherwise).
#   bench/crash-long.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
for i in $(seq 1 "$n"); do
  echo "crash-long: run $i of $n"
  INGESTD_CRASH_LONG=1 INGESTD_CRASH_POINTS=all go test -count=1 -timeout 60m \
    -run 'TestCrashKill9|TestPowerCut|TestCrashPoints|TestRepairCrashPoints' -v ./cmd/ingestd 2>&1 |
    grep -E '^(---|ok|FAIL|PASS)|rounds:|crashed at|in all|lost|seed' || true
done
