package record

import (
	"math/rand"
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
