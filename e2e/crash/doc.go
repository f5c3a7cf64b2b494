// Package crash holds the end-to-end crash tests: kill -9 and power cuts at every failpoint, the repair command under crashes, a full disk, and the rejected-lines store across restarts. INGESTD_CRASH_POINTS=all and INGESTD_CRASH_LONG=1 (as CI sets) run every point and many rounds.
package crash
