package ingest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ingestd/ingestd/ingest/adapter"
)

// The tally's arrays are indexed by Protocols and Outcomes.
func TestTallyIndexes(t *testing.T) {
	if len(Protocols) != nProtocols || len(Outcomes) != nOutcomes {
		t.Fatalf("%d protocols, %d outcomes; the tally holds %d and %d", len(Protocols), len(Outcomes), nProtocols, nOutcomes)
	}
	if Outcomes[outcomeOK] != "ok" || Outcomes[outcomeRefused] != "refused" || outcomeIndex("no such code") != outcomeRefused {
		t.Fatal("outcome indexes")
	}
	for _, c := range []string{adapter.CodeUnauthorized, adapter.CodeForbidden, adapter.CodeInvalid, adapter.CodeTooLarge, adapter.CodeUnsupported,
		adapter.CodeKeyReused, adapter.CodeRateLimited, adapter.CodeBusy, adapter.CodeUnavailable, adapter.CodeDiskFull, adapter.CodeFailed} {
		if Outcomes[outcomeIndex(c)] != c {
			t.Errorf("intake code %s is not an outcome", c)
		}
	}
}

// Each fact is counted once, in a producer's tally; the per-protocol, the
// per-producer and the total series are its sums. A token reload keeps
// the counts of producers that stay, and of those that go.
func TestMetricsAreSumsOfOneTally(t *testing.T) {
	m := newMetrics(nil)
	tok := func(name string) Token { return Token{Name: name, Token: name + "-token-0123456789"} }
	prods := newProducers([]Token{tok("a"), tok("b")}, nil, &m.tallies)
	a, b := prods.list[0].tally, prods.list[1].tally
	native, loki := protocolIndex("native"), protocolIndex("loki")
	a.records[native].Add(3)
	a.records[loki].Add(4)
	a.outcomes[native][outcomeOK].Add(1)
	a.outcomes[loki][outcomeOK].Add(1)
	a.outcomes[loki][outcomeIndex(adapter.CodeRateLimited)].Add(2)
	b.records[native].Add(10)
	b.rejected[native].Add(1)
	b.outcomes[native][outcomeOK].Add(1)
	m.tallies.of(unknownProducer).outcomes[loki][outcomeIndex(adapter.CodeUnauthorized)].Add(5)

	after := newProducers([]Token{tok("a")}, prods, &m.tallies) // b removed
	if after.list[0].tally != a {
		t.Fatal("a reload made a new tally for a producer that stayed")
	}
	want := `
# HELP ingestd_records_in_total Records stored (acknowledged).
# TYPE ingestd_records_in_total counter
ingestd_records_in_total 17
# HELP ingestd_producer_records_total Records stored, by producer (token name).
# TYPE ingestd_producer_records_total counter
ingestd_producer_records_total{producer="a"} 7
ingestd_producer_records_total{producer="b"} 10
# HELP ingestd_producer_rate_limited_total Write requests answered 429, by producer.
# TYPE ingestd_producer_rate_limited_total counter
ingestd_producer_rate_limited_total{producer="a"} 2
ingestd_producer_rate_limited_total{producer="b"} 0
`
	c := newTallyCollector(&m.tallies)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ingestd_records_in_total", "ingestd_producer_records_total", "ingestd_producer_rate_limited_total"); err != nil {
		t.Error(err)
	}
	got := testutil.CollectAndCount(c, "ingestd_protocol_requests_total")
	// a and b: ok for each protocol; a: rate_limited on loki; unknown: unauthorized on loki.
	if want := 2*nProtocols + 2; got != want {
		t.Errorf("%d ingestd_protocol_requests_total series, want %d", got, want)
	}
}

// MatchToken finds the token a proof is made with (Fluent's shared-key
// digest), tries every token whatever matches, and finds none without
// tokens configured.
func TestMatchToken(t *testing.T) {
	m := newMetrics(nil)
	var s Core
	s.prods.Store(newProducers([]Token{{Name: "a", Token: "tok-a-0123456789"}, {Name: "b", Token: "tok-b-0123456789"}}, nil, &m.tallies))
	auth, ok := s.MatchToken(func(tok []byte) bool { return string(tok) == "tok-b-0123456789" })
	if !ok || string(auth) != "Bearer tok-b-0123456789" {
		t.Fatalf("%q %v", auth, ok)
	}
	if known, write, _ := s.Access(auth); !known || !write {
		t.Fatal("the Authorization MatchToken returns is not the token's")
	}
	if _, ok := s.MatchToken(func([]byte) bool { return false }); ok {
		t.Fatal("matched with no token matching")
	}
	tried := 0
	if auth, _ := s.MatchToken(func([]byte) bool { tried++; return true }); tried != 2 || string(auth) != "Bearer tok-a-0123456789" {
		t.Fatalf("tried %d tokens, returned %q: want every token tried and the first match", tried, auth)
	}
	s.prods.Store(newProducers(nil, nil, &m.tallies))
	if _, ok := s.MatchToken(func([]byte) bool { return true }); ok {
		t.Fatal("a match without tokens configured")
	}
}
