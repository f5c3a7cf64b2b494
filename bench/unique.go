package bench

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Vocabulary of the unique shape's messages and fields.
var (
	uqLevels   = []string{"info", "info", "info", "info", "info", "warn", "warn", "error", "debug", "debug"}
	uqMethods  = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH"}
	uqServices = []string{"checkout", "cart", "payments", "search", "catalog", "auth", "shipping", "inventory", "reviews", "gateway", "emails", "pricing"}
	uqRegions  = []string{"eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1"}
	uqStatus   = []int{200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 404, 409, 429, 500, 502, 503}
	uqResource = []string{"orders", "carts", "users", "products", "payments", "sessions", "invoices", "shipments", "reviews", "coupons"}
	uqVerbs    = []string{"created", "updated", "fetched", "deleted", "validated", "retried", "cached", "rejected", "queued", "shipped", "refunded", "expired"}
	uqNouns    = []string{"order", "cart", "payment", "session", "invoice", "shipment", "token", "coupon", "profile", "basket", "webhook", "export"}
	uqReasons  = []string{"after", "before", "during", "while waiting for", "despite", "because of"}
	uqEvents   = []string{"a timeout", "a retry", "the lock", "rate limiting", "a cache miss", "the upstream", "a replica lag", "the circuit breaker"}
)

func pickS(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// unique appends request i's records of the unique shape to b: every value
// drawn from a generator seeded by the workload's seed and i, so request i
// always has the same bytes and no two requests share their values.
func (g *Generator) unique(b []byte, i int64) []byte {
	r := rand.New(rand.NewPCG(uint64(g.w.Seed), uint64(i)))
	first := i * int64(g.w.Batch)
	window := int64(g.w.Days)*int64(24*time.Hour) - int64(time.Minute)
	for j := 0; j < g.w.Batch; j++ {
		b = append(b, `{"id":"`...)
		var idb [20]byte
		id := strconv.AppendInt(idb[:0], first+int64(j), 10)
		for k := len(id); k < idWidth; k++ {
			b = append(b, '0')
		}
		b = append(b, id...)
		ts := g.now.Add(-time.Duration(r.Int64N(window) + int64(time.Minute)))
		b = append(b, `","timestamp":"`...)
		b = ts.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, pickS(r, uqLevels)...)
		b = append(b, `","service":"`...)
		b = append(b, pickS(r, uqServices)...)
		b = append(b, `","host":"ip-10-`...)
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, '.')
		b = append(b, pickS(r, uqRegions)...)
		b = append(b, `","request_id":"`...)
		b = strconv.AppendUint(b, r.Uint64()|1<<63, 16)
		b = append(b, `","user_id":`...)
		b = strconv.AppendInt(b, int64(r.IntN(5_000_000)), 10)
		b = append(b, `,"method":"`...)
		b = append(b, pickS(r, uqMethods)...)
		res := pickS(r, uqResource)
		obj := r.IntN(10_000_000)
		b = append(b, `","path":"/api/v`...)
		b = strconv.AppendInt(b, int64(1+r.IntN(3)), 10)
		b = append(b, '/')
		b = append(b, res...)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(obj), 10)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(uqStatus[r.IntN(len(uqStatus))]), 10)
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendFloat(b, float64(int(r.ExpFloat64()*40_000))/1000, 'f', -1, 64)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, int64(r.ExpFloat64()*8000), 10)
		b = append(b, `,"msg":"`...)
		b = append(b, pickS(r, uqNouns)...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(obj), 10)
		b = append(b, ' ')
		b = append(b, pickS(r, uqVerbs)...)
		b = append(b, ' ')
		b = append(b, pickS(r, uqReasons)...)
		b = append(b, ' ')
		b = append(b, pickS(r, uqEvents)...)
		b = append(b, " in "...)
		b = strconv.AppendInt(b, int64(r.IntN(2000)), 10)
		b = append(b, ` ms"}`...)
		b = append(b, '\n')
	}
	return b
}
