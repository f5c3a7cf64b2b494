package segment

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseBlockHeader: any bytes either fail to parse or parse to a header
// that re-encodes to the same bytes.
func FuzzParseBlockHeader(f *testing.F) {
	enc, _ := NewEncoder(LevelFastest)
	f.Add(block(f, enc, 0, 3, 1)[:BlockHeaderLen])
	f.Add(multiBlock(f, enc, 0, 3, 1)[:BlockHeaderLen])
	f.Add(make([]byte, BlockHeaderLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseBlockHeader(b)
		if err != nil {
			return
		}
		var out [BlockHeaderLen]byte
		putBlockHeader(out[:], m, b[skipHdrLen]) // a parsed version is 1 or 2
		if !bytes.Equal(out[:], b[:BlockHeaderLen]) {
			t.Fatalf("header does not re-encode identically")
		}
	})
}

// FuzzWalk: the frame walker and recovery never panic on arbitrary files;
// when recovery succeeds, what it kept walks cleanly and decodes.
func FuzzWalk(f *testing.F) {
	enc, _ := NewEncoder(LevelFastest)
	two := append(block(f, enc, 0, 3, 1), block(f, enc, 3, 2, 2)...)
	f.Add(two)
	f.Add(append(multiBlock(f, enc, 0, 3, 1), block(f, enc, 3, 2, 2)...))
	f.Add(two[:len(two)-9])
	f.Add(append(append([]byte{}, two...), make([]byte, 40)...))
	f.Add(appendIndex(append([]byte{}, two...), []IndexEntry{{Offset: 0}}))
	f.Add(appendManifest(nil, []string{"part-1.ndjson.zst"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		wk := newWalker(bytes.NewReader(data), int64(len(data)), "fuzz")
		_, _ = wk.walk(func(fr *Frame) error {
			if fr.Kind == kindIndex {
				if _, err := parseIndex(fr.Data); err != nil {
					t.Fatalf("walker passed a bad index: %v", err)
				}
			}
			return nil
		})
		p := filepath.Join(t.TempDir(), PartName("n1", 1))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		w, rec, err := OpenAppend(p)
		if err != nil {
			return
		}
		w.Close()
		kept, _ := os.ReadFile(p)
		wk = newWalker(bytes.NewReader(kept), int64(len(kept)), p)
		dec, _ := NewDecoder()
		defer dec.Close()
		n := 0
		torn, err := wk.walk(func(fr *Frame) error {
			n++
			_, _ = dec.Decode(nil, fr.Data, fr.Meta) // must not panic; CRC-valid garbage may still fail to decode
			return nil
		})
		if err != nil || torn != nil || n != rec.Blocks {
			t.Fatalf("recovered file does not walk cleanly: torn %v err %v blocks %d/%d", torn, err, n, rec.Blocks)
		}
	})
}
