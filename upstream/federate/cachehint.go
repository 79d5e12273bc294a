package federate

import (
	"encoding/json"
	"math"
)

// cacheHint is what a 2026-07-28 result says of its caching: its ttlMs
// and whether its cacheScope is "public".
type cacheHint struct {
	ttlMs  int64
	public bool
}

// publicForever is the hint of a merge of no parts yet: every part can
// only make it stricter.
var publicForever = cacheHint{ttlMs: math.MaxInt64, public: true}

// maxHintTTL keeps a ttlMs in an int64; the cache caps it anyway.
const maxHintTTL = 1e12

// hintOf reads a result's hint. A missing or non-positive ttlMs is 0
// (stale at once), and a scope other than "public", missing included, is
// not public: the gateway's own cache keeps only "public" results, so a
// merge must never be more shareable than any of its parts as it reads
// them.
func hintOf(res map[string]json.RawMessage) cacheHint {
	var h cacheHint
	var ttl float64
	if json.Unmarshal(res["ttlMs"], &ttl) == nil && ttl >= 1 {
		h.ttlMs = int64(min(ttl, maxHintTTL))
	}
	var scope string
	_ = json.Unmarshal(res["cacheScope"], &scope)
	h.public = scope == "public"
	return h
}

// and is the strictest of h and o: the lowest ttl, public only if both.
func (h cacheHint) and(o cacheHint) cacheHint {
	return cacheHint{ttlMs: min(h.ttlMs, o.ttlMs), public: h.public && o.public}
}

// put writes the hint into a merged result. A merge of no parts is stale
// and private.
func (h cacheHint) put(res map[string]any) {
	if h == publicForever {
		h = cacheHint{}
	}
	res["ttlMs"] = h.ttlMs
	res["cacheScope"] = "private"
	if h.public {
		res["cacheScope"] = "public"
	}
}
