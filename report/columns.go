package report

import (
	"encoding/binary"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Column builders over plain Go slices. Arrow's own builders hash every
// dictionary value through a generic memo table (≈ 120 ns an append here);
// these append in a few ns and hand their slices to Arrow without copying
// when a batch is cut. A batch's arrays are only valid until the builders are
// reset, which happens after the batch has been aggregated and written.

// bitmap is an Arrow validity bitmap being built. Its bits are kept only
// once there is a null (nulls > 0): until then a valid value is a count,
// since most columns have no null and Arrow needs no bitmap for them.
type bitmap struct {
	b     []byte
	n     int
	nulls int
}

func (m *bitmap) add(valid bool) {
	if valid && m.nulls == 0 { // small enough to inline: the common case
		m.n++
		return
	}
	m.addBit(valid)
}

// addBit is add once the bits are kept, or for the first null.
func (m *bitmap) addBit(valid bool) {
	if m.nulls == 0 {
		m.fill()
	}
	if m.n>>3 >= len(m.b) {
		m.b = append(m.b, 0)
	}
	if valid {
		m.b[m.n>>3] |= 1 << (m.n & 7)
	} else {
		m.b[m.n>>3] &^= 1 << (m.n & 7) // after keep, a byte's bits past n are stale
		m.nulls++
	}
	m.n++
}

// fill writes the bits of the first n values, all valid, before the first
// null.
func (m *bitmap) fill() {
	m.b = m.b[:0]
	for i := m.n >> 3; i > 0; i-- {
		m.b = append(m.b, 0xff)
	}
	if m.n&7 != 0 {
		m.b = append(m.b, byte(1)<<(m.n&7)-1)
	}
}

func (m *bitmap) reset() { m.b, m.n, m.nulls = m.b[:0], 0, 0 }

// at reports whether value i is valid.
func (m *bitmap) at(i int) bool { return m.nulls == 0 || m.b[i>>3]&(1<<(i&7)) != 0 }

// keep compacts the bitmap to the values where sel is true, in place.
func (m *bitmap) keep(sel []bool) {
	n, nulls := 0, 0
	if m.nulls == 0 {
		for _, ok := range sel {
			if ok {
				n++
			}
		}
		m.n = n
		return
	}
	for i, ok := range sel {
		if !ok {
			continue
		}
		bit := byte(1) << (n & 7)
		if m.at(i) {
			m.b[n>>3] |= bit
		} else {
			m.b[n>>3] &^= bit
			nulls++
		}
		n++
	}
	m.b, m.n, m.nulls = m.b[:(n+7)>>3], n, nulls
}

// keep compacts the values to those where sel is true, in place.
func keep[T any](v []T, sel []bool) []T {
	n := 0
	for i, ok := range sel {
		if ok {
			v[n] = v[i]
			n++
		}
	}
	return v[:n]
}

// buffer returns the validity buffer, or nil when every value is valid.
func (m *bitmap) buffer(own bool) *memory.Buffer {
	if m.nulls == 0 {
		return nil
	}
	return buf(m.b, own)
}

func asBytes[T int32 | int64 | float64](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(v[0])))
}

// buf wraps b as an Arrow buffer; with own set it copies b first, for
// arrays that a consumer may keep after the builders are reset (pqarrow
// keeps the previous batch's dictionary to compare with the next).
func buf(b []byte, own bool) *memory.Buffer {
	if own {
		b = append([]byte(nil), b...)
	}
	return memory.NewBufferBytes(b)
}

func makeArray(dt arrow.DataType, n int, bufs []*memory.Buffer, nulls int) arrow.Array {
	data := array.NewData(dt, n, bufs, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// fixedCol builds a column of int64 (timestamps) or float64 values.
type fixedCol[T int64 | float64] struct {
	vals  []T
	valid bitmap
}

func (c *fixedCol[T]) add(v T)  { c.vals = append(c.vals, v); c.valid.add(true) }
func (c *fixedCol[T]) addNull() { c.vals = append(c.vals, 0); c.valid.add(false) }
func (c *fixedCol[T]) reset()   { c.vals = c.vals[:0]; c.valid.reset() }
func (c *fixedCol[T]) keep(sel []bool) {
	c.vals = keep(c.vals, sel)
	c.valid.keep(sel)
}
func (c *fixedCol[T]) array(dt arrow.DataType, own bool) arrow.Array {
	return makeArray(dt, len(c.vals), []*memory.Buffer{c.valid.buffer(own), buf(asBytes(c.vals), own)}, c.valid.nulls)
}

// strCol builds a utf8 column.
type strCol struct {
	offs  []int32
	data  []byte
	valid bitmap
}

func (c *strCol) add(v []byte) {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.data = append(c.data, v...)
	c.offs = append(c.offs, int32(len(c.data)))
	c.valid.add(true)
}

func (c *strCol) addNull() {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	c.offs = append(c.offs, int32(len(c.data)))
	c.valid.add(false)
}

func (c *strCol) len() int { return max(len(c.offs)-1, 0) }

// keep compacts the column to the rows where sel is true, in place.
func (c *strCol) keep(sel []bool) {
	if len(c.offs) == 0 {
		return
	}
	n, end := 0, int32(0)
	for i, ok := range sel {
		if !ok {
			continue
		}
		from, to := c.offs[i], c.offs[i+1]
		copy(c.data[end:], c.data[from:to])
		end += to - from
		n++
		c.offs[n] = end
	}
	c.offs, c.data = c.offs[:n+1], c.data[:end]
	c.valid.keep(sel)
}
func (c *strCol) reset() { c.offs, c.data = c.offs[:0], c.data[:0]; c.valid.reset() }
func (c *strCol) array(own bool) arrow.Array {
	if len(c.offs) == 0 {
		c.offs = append(c.offs, 0)
	}
	return makeArray(arrow.BinaryTypes.String, c.len(),
		[]*memory.Buffer{c.valid.buffer(own), buf(asBytes(c.offs), own), buf(c.data, own)}, c.valid.nulls)
}

// dictCol builds a dictionary<int32, utf8> column with one dictionary per
// batch.
type dictCol struct {
	index   map[string]int32
	dict    strCol
	indices []int32
	valid   bitmap
	// recent remembers, by a hash of a value's last bytes, the dictionary
	// index (plus one; 0 for none) a value with that hash last had in this
	// batch: the values of a dimension mostly repeat, and comparing a value
	// with one dictionary entry costs less than the map.
	recent [recentSlots]int32
}

// recentSlots is the size of dictCol.recent: room for a few hundred values
// (hosts, say) with few collisions, in 4 KiB.
const (
	recentBits  = 10
	recentSlots = 1 << recentBits
)

func (c *dictCol) add(v []byte) {
	h := recentSlot(v)
	if r := c.recent[h] - 1; r >= 0 && string(c.dict.data[c.dict.offs[r]:c.dict.offs[r+1]]) == string(v) {
		c.indices = append(c.indices, r)
		c.valid.add(true)
		return
	}
	i, ok := c.index[string(v)]
	if !ok {
		i = int32(c.dict.len())
		c.dict.add(v)
		c.index[string(v)] = i
	}
	c.recent[h] = i + 1
	c.indices = append(c.indices, i)
	c.valid.add(true)
}

// recentSlot hashes a value's length and last 8 bytes (where values of a
// dimension mostly differ: node-001, node-002) to a slot of dictCol.recent.
// A value of 4 to 7 bytes is read as two overlapping 4-byte words.
func recentSlot(v []byte) uint16 {
	var x uint64
	switch n := len(v); {
	case n >= 8:
		x = binary.LittleEndian.Uint64(v[n-8:])
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(v))<<32 | uint64(binary.LittleEndian.Uint32(v[n-4:]))
	default:
		for _, b := range v {
			x = x<<8 | uint64(b)
		}
	}
	return uint16(((x ^ uint64(len(v))) * 0x9E3779B97F4A7C15) >> (64 - recentBits))
}

func (c *dictCol) addNull() { c.indices = append(c.indices, 0); c.valid.add(false) }

// keep compacts the rows to those where sel is true (the dictionary keeps
// every value it has).
func (c *dictCol) keep(sel []bool) {
	c.indices = keep(c.indices, sel)
	c.valid.keep(sel)
}

func (c *dictCol) reset() {
	clear(c.index)
	clear(c.recent[:])
	c.dict.reset()
	c.indices = c.indices[:0]
	c.valid.reset()
}

func (c *dictCol) array(own bool) arrow.Array {
	idx := makeArray(arrow.PrimitiveTypes.Int32, len(c.indices),
		[]*memory.Buffer{c.valid.buffer(own), buf(asBytes(c.indices), own)}, c.valid.nulls)
	defer idx.Release()
	d := c.dict.array(own)
	defer d.Release()
	return array.NewDictionaryArray(dictType, idx, d)
}
