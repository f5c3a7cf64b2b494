package ingest

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"sync"
	"time"
)

// producer is one token's owner, or "anonymous" when no tokens are
// configured (and then may write and read). Metrics are kept by its name,
// never by token.
type producer struct {
	name  string
	token []byte
	write bool         // may store records
	read  bool         // may read reports
	tally *tally       // its writes, kept by name across reloads
	limit *rateLimiter // nil: no limit
}

// producers is the set of known writers, swapped whole on reload.
type producers struct {
	list []*producer
	anon *producer // set when there are no tokens
}

func newProducers(ts []Token, old *producers, tl *tallies) *producers {
	p := &producers{}
	for _, t := range ts {
		q := &producer{name: t.Name, token: []byte(t.Token), write: t.CanWrite(), read: t.CanRead(), tally: tl.of(t.Name)}
		if t.RateLimit > 0 {
			q.limit = newRateLimiter(t.RateLimit)
		}
		p.list = append(p.list, q)
	}
	if len(p.list) == 0 {
		p.anon = &producer{name: "anonymous", write: true, read: true, tally: tl.of("anonymous")}
		if old != nil && old.anon != nil {
			p.anon = old.anon
		}
		p.list = []*producer{p.anon}
	}
	return p
}

// find returns the producer whose token is in the Authorization header, or
// nil. Shippers send it as "Bearer <token>", as an Elasticsearch API key
// ("ApiKey <token>"), as a Splunk HEC token ("Splunk <token>"), or as basic auth with the token as the password. Every
// configured token is compared, in constant time, whatever matches.
func (p *producers) find(header []byte) *producer {
	if p.anon != nil {
		return p.anon
	}
	var tok []byte
	scheme, rest, _ := bytes.Cut(header, []byte(" "))
	switch {
	case bytes.EqualFold(scheme, []byte("Bearer")), bytes.EqualFold(scheme, []byte("ApiKey")), bytes.EqualFold(scheme, []byte("Splunk")):
		tok = rest
	case bytes.EqualFold(scheme, []byte("Basic")):
		dec, err := base64.StdEncoding.DecodeString(string(rest))
		if err != nil {
			return nil
		}
		if i := bytes.IndexByte(dec, ':'); i >= 0 {
			tok = dec[i+1:]
		}
	}
	if len(tok) == 0 {
		return nil
	}
	var found *producer
	for _, q := range p.list {
		if subtle.ConstantTimeCompare(tok, q.token) == 1 {
			found = q
		}
	}
	return found
}

// rateLimiter is a token bucket of records: rate per second, a burst of one
// second's worth (at least one request of any size passes when the bucket is
// full, so a limit below the request size still lets requests through).
type rateLimiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64) *rateLimiter {
	return &rateLimiter{rate: rate, tokens: rate, last: time.Now()}
}

// take asks for n records now; when refused it says how long until they fit.
func (r *rateLimiter) take(n int, now time.Time) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = math.Min(r.rate, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	r.last = now
	need := float64(n)
	if need > r.rate { // larger than a second's worth: needs a full bucket
		need = r.rate
	}
	if r.tokens >= need {
		r.tokens -= float64(n) // may go negative: the debt delays the next request
		return true, 0
	}
	return false, time.Duration((need - r.tokens) / r.rate * float64(time.Second))
}
