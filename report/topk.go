package report

import (
	"container/heap"
	"sort"
)

// TopK counts values of one dimension: exactly while it has seen at most Cap
// distinct values, then with the Space-Saving algorithm (Metwally et al.),
// which keeps Cap counters and guarantees that any value counted more than
// N/Cap times is among them, each count over-estimated by at most its Err.
// Two TopKs merge into one with the same guarantee (Agarwal et al.,
// "Mergeable Summaries").
type TopK struct {
	Cap   int
	Exact bool // no value was ever evicted: every count is exact
	m     map[string]*topEntry
	h     topHeap // min-heap by count, kept only once full
}

type topEntry struct {
	Value string
	Count int64
	Err   int64 // upper bound of the over-count
	idx   int
}

// TopValue is one counted value.
type TopValue struct {
	Value string `json:"value"`
	Count int64  `json:"records"`
	Err   int64  `json:"error,omitempty"` // the true count lies in [Count-Err, Count]
}

// NewTopK returns an empty counter keeping at most cap values.
func NewTopK(cap int) *TopK {
	return &TopK{Cap: cap, Exact: true, m: make(map[string]*topEntry)}
}

// Add counts n more records of value v. v is copied only when it becomes a
// new counter.
func (t *TopK) Add(v []byte, n int64) {
	if e, ok := t.m[string(v)]; ok {
		e.Count += n
		if t.h != nil {
			heap.Fix(&t.h, e.idx)
		}
		return
	}
	if len(t.m) < t.Cap {
		t.m[string(v)] = &topEntry{Value: string(v), Count: n}
		return
	}
	t.evict(string(v), n, 0)
}

// evict replaces the smallest counter with value v (Space-Saving).
func (t *TopK) evict(v string, n, err int64) {
	if t.h == nil {
		t.h = make(topHeap, 0, len(t.m))
		for _, e := range t.m {
			e.idx = len(t.h)
			t.h = append(t.h, e)
		}
		heap.Init(&t.h)
	}
	t.Exact = false
	min := t.h[0]
	delete(t.m, min.Value)
	min.Err = min.Count + err
	min.Count += n
	min.Value = v
	t.m[v] = min
	heap.Fix(&t.h, 0)
}

// minCount is what a value absent from t may have had: 0 while exact, else
// the smallest counter.
func (t *TopK) minCount() int64 {
	if t.Exact || len(t.m) == 0 {
		return 0
	}
	var m int64 = -1
	for _, e := range t.m {
		if m < 0 || e.Count < m {
			m = e.Count
		}
	}
	return max(m, 0)
}

// Merge adds o into t.
func (t *TopK) Merge(o *TopK) {
	mt, mo := t.minCount(), o.minCount()
	union := make(map[string]*topEntry, len(t.m)+len(o.m))
	for v, e := range t.m {
		union[v] = &topEntry{Value: v, Count: e.Count, Err: e.Err}
	}
	for v, e := range o.m {
		if u, ok := union[v]; ok {
			u.Count += e.Count
			u.Err += e.Err
		} else {
			union[v] = &topEntry{Value: v, Count: e.Count + mt, Err: e.Err + mt}
		}
	}
	for v, u := range union {
		if _, ok := o.m[v]; !ok {
			u.Count += mo
			u.Err += mo
		}
	}
	exact := t.Exact && o.Exact && len(union) <= t.Cap
	all := make([]*topEntry, 0, len(union))
	for _, u := range union {
		all = append(all, u)
	}
	sortEntries(all)
	if len(all) > t.Cap {
		all = all[:t.Cap]
	}
	t.m = make(map[string]*topEntry, len(all))
	for _, e := range all {
		t.m[e.Value] = e
	}
	t.h = nil
	t.Exact = exact
}

// Top returns the n most frequent values, most frequent first (ties by value).
func (t *TopK) Top(n int) []TopValue {
	all := make([]*topEntry, 0, len(t.m))
	for _, e := range t.m {
		all = append(all, e)
	}
	sortEntries(all)
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	out := make([]TopValue, len(all))
	for i, e := range all {
		out[i] = TopValue{Value: e.Value, Count: e.Count, Err: e.Err}
	}
	return out
}

// Len returns the number of counters.
func (t *TopK) Len() int { return len(t.m) }

func sortEntries(a []*topEntry) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].Count != a[j].Count {
			return a[i].Count > a[j].Count
		}
		return a[i].Value < a[j].Value
	})
}

// topState is the serialised form.
type topState struct {
	Cap    int        `json:"cap"`
	Exact  bool       `json:"exact"`
	Values []TopValue `json:"values"`
}

func (t *TopK) state() topState {
	return topState{Cap: t.Cap, Exact: t.Exact, Values: t.Top(-1)}
}

func topFromState(s topState) *TopK {
	t := NewTopK(s.Cap)
	t.Exact = s.Exact
	for _, v := range s.Values {
		t.m[v.Value] = &topEntry{Value: v.Value, Count: v.Count, Err: v.Err}
	}
	return t
}

type topHeap []*topEntry

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].Count < h[j].Count }
func (h topHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *topHeap) Push(x any) { e := x.(*topEntry); e.idx = len(*h); *h = append(*h, e) }
func (h *topHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
