package record

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

// Every byte value, at every offset of a string (so in every lane of the
// 8-byte string walk), is accepted or refused as encoding/json does.
func TestStringEveryByteAtEveryOffset(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for c := 0; c < 256; c++ {
		for off := 0; off < 20; off++ {
			s := []byte(`{"ts":1,"k":"`)
			for i := 0; i < off; i++ {
				s = append(s, byte('a'+r.Intn(26)))
			}
			s = append(s, byte(c))
			for i := 0; i < r.Intn(20); i++ {
				s = append(s, byte('a'+r.Intn(26)))
			}
			s = append(s, `"}`...)
			checkAgainstStdlib(t, s)
		}
	}
}

// keyPredictionSeeds are sequences of records (one per line) that work the
// scanner's key prediction: each record's keys are predicted from the last
// one scanned whole.
var keyPredictionSeeds = []string{
	// a duplicate of a predicted key, after the prediction fails
	"{\"ts\":1,\"a\":1,\"b\":2}\n{\"ts\":1,\"a\":1,\"ts\":3}",
	// a record that fails after its first key leaves the prediction alone
	"{\"a\":1,\"b\":2,\"ts\":1}\n{\"b\":1,\"x\":tru}\n{\"b\":1,\"b\":2}",
	// fewer keys than predicted, then more
	"{\"ts\":1,\"a\":1,\"b\":2}\n{\"ts\":1,\"a\":1}\n{\"ts\":1}\n{\"ts\":1,\"a\":1,\"b\":2,\"c\":3}",
	// a predicted name that is a prefix of the key, or the key of it
	"{\"ts\":1,\"ab\":1}\n{\"ts\":1,\"abc\":1}\n{\"ts\":1,\"a\":1}\n{\"ts\":1,\"ab\":1,\"abc\":2}",
	// escaped names: equal raw bytes, or the same name written two ways
	"{\"ts\":1,\"a\\\"b\":1}\n{\"ts\":1,\"a\\\"b\":1,\"a\\u0022b\":2}\n{\"ts\":1,\"a\\\"b\":1,\"c\":2}",
	"{\"ts\":1,\"\\u00e9\":1}\n{\"ts\":1,\"\\u00e9\":1,\"é\":2}",
	// names past 16 bytes, differing after byte 16 or at the quote
	"{\"ts\":1,\"a_very_long_member_name\":1}\n{\"ts\":1,\"a_very_long_member_nameX\":1}\n{\"ts\":1,\"a_very_long_member_nam\":1}\n{\"ts\":1,\"a_very_long_member_name\":1,\"a_very_long_member_name\":2}",
	"{\"ts\":1,\"exactly_15_byte\":1,\"exactly_16_bytes\":2}\n{\"ts\":1,\"exactly_15_byte\":1,\"exactly_16_bytes\":2}\n{\"ts\":1,\"exactly_15_bytX\":1,\"exactly_16_byteX\":2}",
	"{\"ts\":1,\"exactly_16_bytes\":1}\n{\"ts\":1,\"exactly_16_bytesX\":1}\n{\"ts\":1,\"exactly_15_byte\":1}\n{\"ts\":1,\"exactly_15_byteX\":1}",
	// keys at the end of the input (under 16 bytes left)
	"{\"ts\":1}\n{\"ts\":1}\n{\"ts\"\n{\"ts\":2,\"t\":1}",
	// whitespace around keys, nested objects with the top level's names
	"{ \"ts\" : 1 , \"a\" : { \"ts\" : 1 } }\n{\"ts\":1,\"a\":{\"ts\":1,\"ts\":2}}\n{\"ts\":1,\"a\":{},\"ts\":2}",
	// a control character or bad UTF-8 right after a predicted name's bytes
	"{\"ts\":1,\"ab\":1}\n{\"ts\":1,\"ab\x01\":1}\n{\"ts\":1,\"ab\xff\":1}",
	// shapes that change every record, past the point where predictions
	// stop being kept
	"{\"a\":1,\"ts\":1}\n{\"b\":1,\"ts\":1}\n{\"c\":1,\"ts\":1}\n{\"d\":1,\"ts\":1}\n{\"e\":1,\"ts\":1}\n{\"f\":1,\"ts\":1}\n{\"g\":1,\"ts\":1}\n{\"h\":1,\"ts\":1}\n{\"i\":1,\"ts\":1}\n{\"j\":1,\"ts\":1}\n{\"j\":1,\"ts\":1,\"j\":2}\n{\"a\":1,\"ts\":1,\"a\":1}",
}

// withPadding returns the seeds and, for each, the same records each with a
// last member long enough that every key before it is compared 8 bytes at a
// time (under 17 bytes from the end, names are compared byte by byte).
func withPadding(seeds []string) []string {
	out := append([]string(nil), seeds...)
	for _, seq := range seeds {
		lines := strings.Split(seq, "\n")
		for i, l := range lines {
			if strings.HasSuffix(l, "}") {
				lines[i] = l[:len(l)-1] + `,"padding":"0123456789abcdef"}`
			}
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return out
}

// TestKeyPrediction: through one parser, each record of a sequence is
// judged as encoding/json judges it alone; and the sequences do exercise
// the prediction (keys predicted, predictions failing, duplicates found
// after predicted keys).
func TestKeyPrediction(t *testing.T) {
	for _, seq := range withPadding(keyPredictionSeeds) {
		p := NewParser(DefaultRules())
		for _, line := range bytes.Split([]byte(seq), []byte("\n")) {
			checkWith(t, p, line)
		}
	}
	// The prediction is what the first seed tests: the second record's
	// first two keys are predicted, and its third is a duplicate of one.
	p := NewParser(DefaultRules())
	b := &Batch{}
	if re := p.Parse([]byte("{\"ts\":1,\"a\":1,\"b\":2}\n{\"ts\":1,\"a\":1,\"ts\":3}\n"), testNow, true, b); re != nil {
		t.Fatal(re)
	}
	if len(b.Recs) != 1 || len(b.Errs) != 1 || !strings.Contains(b.Errs[0].Err, `duplicate member name "ts"`) {
		t.Fatalf("want the first record and a duplicate-name error for the second, got %d records, errors %+v", len(b.Recs), b.Errs)
	}
	// The failed record left the first one's prediction.
	if len(p.sc.pred) != 3 || string(p.sc.pred[1].pat.Name()) != "a" || string(p.sc.pred[2].pat.Name()) != "b" {
		t.Fatalf("prediction after the two records: %+v %q", p.sc.pred, p.sc.predBuf)
	}
}
