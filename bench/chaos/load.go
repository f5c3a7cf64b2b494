package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// phaseLength is how long records go to one past day; then the next one.
// Days of earlier phases get nothing more: they seal, compact and ship
// while the soak runs.
const phaseLength = 20 * time.Second

// request outcome as the producer saw it
const (
	pending    = iota
	acked      // 200 {"accepted":n}: every record stored exactly once
	unanswered // no answer to some attempt and never acknowledged: whole or absent
	refused    // only definite refusals: nothing stored
)

// request is one POST, retried with its key until it is answered.
type request struct {
	id       int64
	n        int // records
	body     []byte
	status   int
	tries    int
	noAnswer bool // some attempt got no answer (timeout, connection lost)
}

// activeDays are the two days records go to at t: today, and the current
// phase's past day (a new one each phase).
func (s *soak) activeDays(t time.Time) []string {
	phase := int(t.Sub(s.start) / phaseLength)
	today := t.UTC()
	return []string{today.Format(time.DateOnly), today.AddDate(0, 0, -2-phase).Format(time.DateOnly)}
}

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango")

func (s *soak) newRequest(r *rand.Rand) *request {
	q := &request{id: s.nextID.Add(1), n: 20 + r.Intn(180)}
	days := s.activeDays(time.Now())
	var b bytes.Buffer
	for j := 0; j < q.n; j++ {
		day, _ := time.Parse(time.DateOnly, days[r.Intn(2)])
		ts := day.Add(time.Duration(r.Int63n(int64(24 * time.Hour))))
		if ts.After(time.Now()) {
			ts = time.Now().Add(-time.Duration(r.Intn(1000)) * time.Millisecond)
		}
		fmt.Fprintf(&b, `{"ts":"%s","id":"c%d-%d","level":"%s","msg":"%s %s %d","user":"u%d","n":%d.%d}`+"\n",
			ts.UTC().Format(time.RFC3339Nano), q.id, j, []string{"info", "info", "warn", "error"}[r.Intn(4)],
			words[r.Intn(len(words))], words[r.Intn(len(words))], r.Intn(100000), r.Intn(5000), r.Intn(1000), r.Intn(100))
	}
	q.body = b.Bytes()
	return q
}

// produce sends requests until ctx ends, each retried until answered.
func (s *soak) produce(ctx context.Context, r *rand.Rand) {
	client := &http.Client{Timeout: 3 * time.Second}
	for ctx.Err() == nil {
		q := s.newRequest(r)
		s.reqMu.Lock()
		s.reqs = append(s.reqs, q)
		s.reqMu.Unlock()
		t0 := time.Now()
		s.send(client, q, time.Now().Add(time.Until(deadlineOf(ctx))+3*time.Minute))
		pace := time.Duration(float64(q.n) / (s.rate / float64(s.producers)) * float64(time.Second))
		if d := pace - time.Since(t0); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now()
	}
	return d
}

// send posts q with its Idempotency-Key until it is acknowledged, refused
// for good, or giveUp passes.
func (s *soak) send(client *http.Client, q *request, giveUp time.Time) {
	backoff := 50 * time.Millisecond
	for {
		q.tries++
		s.dmu.Lock()
		url := s.d.url
		s.dmu.Unlock()
		req, _ := http.NewRequest("POST", url+"/v1/ingest", bytes.NewReader(q.body))
		req.Header.Set("Idempotency-Key", "chaos-"+strconv.FormatInt(q.id, 10))
		resp, err := client.Do(req)
		retry := true
		if err != nil {
			q.noAnswer = true
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200 && string(b) == fmt.Sprintf(`{"accepted":%d}`, q.n):
				q.status = acked
				return
			case resp.StatusCode == 200:
				fmt.Printf("chaos: PROBLEM request %d: 200 with %s for %d records\n", q.id, b, q.n)
				q.status = acked
				return
			case resp.StatusCode == 503 && bytes.Contains(b, []byte("ship when the bucket answers")):
				// ack bucket, the bucket late: stored here, maybe (a retry
				// with the key gets its answer).
				q.noAnswer = true
			case resp.StatusCode == 429 || resp.StatusCode == 503 || resp.StatusCode == 507:
			default:
				retry = false
			}
		}
		if !retry || time.Now().After(giveUp) {
			if q.noAnswer {
				q.status = unanswered
			} else {
				q.status = refused
			}
			return
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}
