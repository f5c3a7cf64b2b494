package ingest

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/record"
	"github.com/ingestd/ingestd/segment"
)

// The path of one write through the core, the same for every protocol:
//
//	w, err := core.Begin(authorization, "otlp") // token, storage health, disk, readiness
//	... the HTTP layer reads and decodes the body under its limits ...
//	replay, err := w.Key(key, uri, body)       // only with an Idempotency-Key
//	recs, err := adapter.Records(w.Scratch(), body); w.KeepScratch(recs)
//	res, err := w.Commit(recs, options)        // record rules, rate limit, budget, WAL group commit
//	reply := adapter.Answer(res) or adapter.Error(err)
//	w.Done(reply was a success)
//
// A refusal outside the core (a body over the limit, an envelope that does
// not decode) is told with w.Refuse(err) before Done, so that the
// per-protocol metrics count every write by its outcome.
//
// Commit returns once every accepted record is durable per wal.fsync, with
// the request's key journaled in the same commit.

// Write is one write request in progress. Get it from Begin and end it with
// Done; what its Result points into is valid until Done.
type Write struct {
	s     *Core
	prod  *producer
	st    *reqState
	start time.Time // the receive time given to records without a timestamp
	proto int       // the protocol's index in Protocols, for the metrics
	code  string    // the outcome so far: "", or an adapter.Code*, or "replayed"
	// committed: the entry is in the WAL though the answer is not a
	// success (the bucket did not confirm it in time); its key is kept.
	committed bool
}

// Begin authorizes a write (auth is the Authorization header's value) and
// checks that intake is open: storage healthy, disk above disk.min_free,
// recovery done, not stopping. protocol names the adapter in the metrics
// (native, elasticsearch, loki, otlp, hec, syslog).
func (s *Core) Begin(auth []byte, protocol string) (*Write, *adapter.Error) {
	proto := protocolIndex(protocol)
	prod := s.prods.Load().find(auth)
	if prod == nil {
		s.m.unknown.outcomes[proto][outcomeIndex(adapter.CodeUnauthorized)].Add(1)
		return nil, &adapter.Error{Status: 401, Code: adapter.CodeUnauthorized, Message: "missing or unknown bearer token"}
	}
	if !prod.write {
		prod.tally.outcomes[proto][outcomeIndex(adapter.CodeForbidden)].Add(1)
		return nil, &adapter.Error{Status: 403, Code: adapter.CodeForbidden, Message: "token " + prod.name + " has the role read: it may read reports, not write; use a token with the role write"}
	}
	if e := s.open(); e != nil {
		prod.tally.outcomes[proto][outcomeIndex(e.Code)].Add(1)
		return nil, e
	}
	st := s.batches.Get().(*reqState)
	st.key, st.digest, st.resp = "", 0, st.resp[:0]
	return &Write{s: s, prod: prod, st: st, start: time.Now(), proto: proto}, nil
}

// open says why intake is closed, or nil.
func (s *Core) open() *adapter.Error {
	if err := s.failure(); err != nil {
		return s.storageErr(err)
	}
	if s.diskLow.Load() {
		return &adapter.Error{Status: 507, Code: adapter.CodeDiskFull,
			Message: fmt.Sprintf("disk nearly full: %d bytes free, under disk.min_free (%d); nothing was stored", s.diskFree.Load(), s.cfg.MinFree)}
	}
	if !s.ready.Load() {
		msg := "recovering; not accepting yet"
		if s.closing.Load() {
			msg = "shutting down"
		}
		return &adapter.Error{Status: 503, Code: adapter.CodeUnavailable, Message: msg, RetryAfter: s.retry}
	}
	if s.ackBucket {
		if err := s.tail.Stalled(); err != nil {
			return &adapter.Error{Status: 503, Code: adapter.CodeUnavailable, RetryAfter: s.retry,
				Message: "storage.ack is bucket and " + err.Error() + "; nothing of this request was stored"}
		}
	}
	return nil
}

// Refuse tells the write's outcome when it is refused outside the core (a
// body over the limit, an envelope that does not decode); Done counts it.
func (w *Write) Refuse(e *adapter.Error) { w.code = e.Code }

// Authorized reports whether auth (an Authorization header value) names a
// producer, for the calls that store nothing.
func (s *Core) Authorized(auth []byte) bool { known, _, _ := s.Access(auth); return known }

// Access says what auth (an Authorization header value) may do: known is
// false for a missing or unknown token; without tokens configured, anyone
// may write and read.
func (s *Core) Access(auth []byte) (known, write, read bool) {
	p := s.prods.Load().find(auth)
	if p == nil {
		return false, false, false
	}
	return true, p.write, p.read
}

// MatchToken finds the configured token for which match is true (a
// protocol that proves a token without sending it, as Fluent forward's
// shared-key digest) and returns it as an Authorization value for Begin.
// Every token is tried, whatever matches; false without tokens or when
// none matches.
func (s *Core) MatchToken(match func(token []byte) bool) ([]byte, bool) {
	var found []byte
	for _, p := range s.prods.Load().list {
		if len(p.token) > 0 && match(p.token) && found == nil {
			found = p.token
		}
	}
	if found == nil {
		return nil, false
	}
	return append([]byte("Bearer "), found...), true
}

// Scratch is a buffer, owned by the write, for the records an adapter
// translates from its envelope.
func (w *Write) Scratch() []byte { return w.st.recs[:0] }

// KeepScratch gives the (maybe grown) scratch buffer back to the write, so
// that its memory is pooled with it.
func (w *Write) KeepScratch(b []byte) { w.st.recs = b[:0] }

// Key applies an Idempotency-Key: a key seen before with the same request
// returns its first answer (store nothing and send it); with another
// request, a 422. uri and the decoded body identify the request.
func (w *Write) Key(key, uri, body []byte) (replay []byte, _ *adapter.Error) {
	if !validKey(key) {
		w.code = adapter.CodeInvalid
		return nil, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Message: errKeyFormat.Error()}
	}
	k, digest := string(key), requestDigest(uri, body)
	answer, seq, replayed, err := w.s.keys.Begin(k, digest, time.Now())
	if err != nil {
		w.code = adapter.CodeKeyReused
		return nil, &adapter.Error{Status: 422, Code: adapter.CodeKeyReused, Message: err.Error()}
	}
	if replayed {
		// Under ack bucket, the first answer may have been a 503 while
		// the entry waited for the bucket: the replay waits too.
		if e := w.s.waitBucket(seq); e != nil {
			w.code = e.Code
			return nil, e
		}
		w.code = "replayed"
		return answer, nil
	}
	w.st.key, w.st.digest = k, digest
	return nil, nil
}

// Commit parses records (NDJSON, a JSON array or one object) under the
// record rules and stores the accepted ones durably: the producer's rate
// limit, the buffer budget, then one WAL entry in the next group commit.
func (w *Write) Commit(records []byte, opt adapter.Options) (*adapter.Result, *adapter.Error) {
	res, e := w.commit(records, opt)
	if e != nil {
		w.code = e.Code
		return nil, e
	}
	w.code = "ok"
	w.prod.tally.records[w.proto].Add(int64(res.Accepted))
	w.prod.tally.rejected[w.proto].Add(int64(res.Rejected))
	return res, nil
}

func (w *Write) commit(records []byte, opt adapter.Options) (*adapter.Result, *adapter.Error) {
	s, st := w.s, w.st
	b := &st.batch
	b.Reset()
	st.seq = 0
	t0 := time.Now()
	p := s.parsers.Get().(*record.Parser)
	re := p.ParseTimeField(records, w.start, opt.Skip, b, opt.TimeField)
	s.parsers.Put(p)
	t1 := time.Now()
	s.m.stageParse.Observe(t1.Sub(t0).Seconds())
	if re != nil {
		s.m.rejectRequest(re.Reason)
		return nil, &adapter.Error{Status: 400, Code: adapter.CodeInvalid, Message: re.Msg, Line: re.Line, Reason: re.Reason}
	}
	for i, n := range b.ByReason {
		if n > 0 {
			s.m.reject(record.Reasons[i], n)
		}
	}
	if len(b.Buf) > segment.MaxBlockRaw {
		return nil, &adapter.Error{Status: 413, Code: adapter.CodeTooLarge,
			Message: fmt.Sprintf("request stores %d bytes (compacted, with added timestamps), over the limit of %d", len(b.Buf), segment.MaxBlockRaw)}
	}
	res := &adapter.Result{Accepted: len(b.Recs), Rejected: b.Rejected, Errors: b.Errs, Bad: b.Bad}
	if st.key != "" && opt.Answer != nil {
		// Made before the WAL append: journaled in the same group commit.
		st.resp = append(st.resp[:0], opt.Answer(res)...)
	}
	prod := w.prod
	if len(b.Recs) > 0 {
		if prod.limit != nil {
			if ok, wait := prod.limit.take(len(b.Recs), time.Now()); !ok {
				return nil, &adapter.Error{Status: 429, Code: adapter.CodeRateLimited,
					Message: "rate limit of producer " + prod.name + " reached; retry later", RetryAfter: int(wait/time.Second) + 1}
			}
		}
		// Admit the records' size, then what the day buffers will hold:
		// the frames compressed here (once for good), or the small raw.
		n := int64(len(b.Buf))
		if !s.store.Admit(n) {
			return nil, &adapter.Error{Status: 503, Code: adapter.CodeBusy, Message: "buffers full; retry later", RetryAfter: s.retry}
		}
		var stored int
		var packed bool
		st.payload, stored, packed = s.store.AppendFramedEntry(st.payload[:0], b, &st.entry)
		s.store.Unadmit(n - int64(stored))
		n = int64(stored)
		t2 := time.Now()
		s.m.stageCompress.Observe(t2.Sub(t1).Seconds())
		wal := s.wal.Load()
		var err error
		if packed {
			st.seq, err = wal.AppendPacked(st.payload, st)
		} else {
			st.seq, err = wal.Append(st.payload, st)
		}
		s.m.stageCommit.Observe(time.Since(t2).Seconds())
		if err != nil {
			s.store.Unadmit(n)
			return nil, s.storageErr(err)
		}
		if e := s.waitBucket(st.seq); e != nil {
			// Stored here and shipped when the bucket answers: a retry
			// with the same key gets this answer, not a second copy.
			w.committed = true
			return nil, e
		}
	}
	s.feed.publish(b) // durable now (and in the bucket under ack: bucket)
	if r := s.rejected.Load(); r != nil && opt.KeepBad && len(b.Bad) > 0 {
		r.add(prod.name, time.Now(), b)
	}
	return res, nil
}

// Done ends the write. ok says the client was answered with success, which
// an Idempotency-Key remembers (otherwise the key is released for a retry).
func (w *Write) Done(ok bool) {
	code := w.code
	switch {
	case code == "" && ok:
		code = "ok"
	case code == "" || (code == "ok" && !ok):
		code = "refused" // the answer could not be sent, or no reason was told
	}
	w.prod.tally.outcomes[w.proto][outcomeIndex(code)].Add(1)
	if w.st.key != "" {
		w.s.keys.Finish(w.st.key, w.st.resp, ok || w.committed, w.st.seq)
	}
	w.s.batches.Put(w.st)
	w.st = nil
}

// waitBucket, under storage.ack: bucket, waits until WAL entry seq is in
// the bucket; after storage.ack_timeout it is a 503.
func (s *Core) waitBucket(seq uint64) *adapter.Error {
	if !s.ackBucket || seq == 0 {
		return nil
	}
	t0 := time.Now()
	err := s.tail.Wait(seq, s.ackTimeout)
	s.m.stageBucket.Observe(time.Since(t0).Seconds())
	if err != nil {
		return &adapter.Error{Status: 503, Code: adapter.CodeUnavailable, RetryAfter: s.retry,
			Message: "storage.ack is bucket and " + err.Error() + "; the records are stored on this node and ship when the bucket answers: retry with the same Idempotency-Key to get this write's answer without a second copy"}
	}
	return nil
}

// storageErr maps a failed write to 507: the disk is full, or it failed
// otherwise (read-only, an I/O error). Both are sticky until an operator
// acts and restarts, so neither advises a short Retry-After: a client that
// retries every second would only add load while nothing can change.
func (s *Core) storageErr(err error) *adapter.Error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &adapter.Error{Status: 507, Code: adapter.CodeDiskFull, Message: "disk full, operator action needed: " + err.Error() +
			"; nothing of this request was stored; free space and restart ingestd"}
	}
	return &adapter.Error{Status: 507, Code: adapter.CodeFailed, Message: "storage failed, operator action needed: " + err.Error() +
		"; nothing of this request was stored; intake stays stopped until the disk is fixed and ingestd restarted (its log says more)"}
}

// Readiness is what /readyz reports: "ready", or why intake is closed
// ("disk_low", "bucket_unavailable" or "failed" with the error, "stopping",
// "recovering").
func (s *Core) Readiness() (state string, err error) {
	failure := s.failure()
	switch {
	case s.ready.Load() && failure == nil && s.diskLow.Load():
		return "disk_low", nil
	case s.ready.Load() && failure == nil && s.ackBucket && s.tail.Stalled() != nil:
		return "bucket_unavailable", s.tail.Stalled()
	case s.ready.Load() && failure == nil:
		return "ready", nil
	case failure != nil:
		return "failed", failure
	case s.closing.Load():
		return "stopping", nil
	}
	return "recovering", nil
}

// requestDigest fingerprints a request for its Idempotency-Key: path and
// query, then the decoded body (so the same records sent with another
// compression are the same request). Never 0, which means "none".
func requestDigest(uri, body []byte) uint64 {
	d := xxhash.New()
	d.Write(uri)
	d.Write([]byte{0})
	d.Write(body)
	return max(d.Sum64(), 1)
}
