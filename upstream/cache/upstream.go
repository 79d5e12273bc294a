package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// cacheable are the methods whose results a server may mark public.
var cacheable = map[string]bool{
	"tools/list": true, "prompts/list": true, "resources/list": true,
	"resources/templates/list": true, "resources/read": true, "server/discover": true,
}

// Upstream returns up with c in front of it for server (the key of the
// member or group up serves, so that two servers of one endpoint never
// share an entry): a cacheable request whose answer c keeps is answered
// from c, any other goes to up, and the change notifications up delivers
// (on subscriptions/listen streams) invalidate what they name.
func (c *Cache) Upstream(up upstream.Stateless, server string) upstream.Stateless {
	return &cached{c: c, up: up, server: server}
}

type cached struct {
	c      *Cache
	up     upstream.Stateless
	server string
}

// Call implements upstream.Stateless.
func (u *cached) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	m := req.Message
	hear := func(resp *pipeline.Message, status int) {
		if resp.IsNotification() {
			u.c.Heard(resp, u.server)
		}
		deliver(resp, status)
	}
	if !cacheable[m.Method] || !m.IsRequest() || retried(m) {
		return u.up.Call(ctx, req, hear)
	}
	key, uri, ok := Key(u.server, m)
	if !ok {
		return u.up.Call(ctx, req, hear)
	}
	if result, ok := u.c.get(key); ok {
		u.c.count(Hit)
		if ce := u.c.cfg.Logger.Check(zap.DebugLevel, "answered from the cache"); ce != nil {
			ce.Write(zap.String("method", m.Method), zap.String("server", u.server))
		}
		hit := pipeline.NewResult(m.ID, result)
		hit.Cached = true
		deliver(hit, 200)
		return nil
	}
	u.c.count(Miss)
	gen := u.c.generation()
	return u.up.Call(ctx, req, func(resp *pipeline.Message, status int) {
		if resp.IsResponse() && status == 200 {
			u.keep(m.Method, key, uri, resp, gen)
		}
		hear(resp, status)
	})
}

// retried reports whether m is the retry of a multi-round-trip request
// (it carries inputResponses or requestState): its answer is for that
// exchange alone, and never cached (server/utilities/caching).
func retried(m *pipeline.Message) bool {
	return bytes.Contains(m.Params, []byte(`"inputResponses"`)) || bytes.Contains(m.Params, []byte(`"requestState"`))
}

// keep stores the upstream's answer when the server marked it public with
// a positive ttl.
func (u *cached) keep(method, key, uri string, resp *pipeline.Message, gen uint64) {
	if resp.Result == nil || upstream.GatewayStatus(resp) != 0 {
		return
	}
	ttl, ok := publicTTL(resp.Result)
	if !ok {
		return
	}
	ttl = min(ttl, u.c.cfg.MaxTTL)
	e := &entry{key: key, server: u.server, method: method, uri: uri, result: bytes.Clone(resp.Result), expires: u.c.cfg.Now().Add(ttl)}
	if u.c.put(e, gen) {
		u.c.count(Store)
		if ce := u.c.cfg.Logger.Check(zap.DebugLevel, "cached an answer the server marked public"); ce != nil {
			ce.Write(zap.String("method", method), zap.String("server", u.server), zap.Duration("ttl", ttl))
		}
	}
}

// maxTTLMs keeps a ttlMs in a time.Duration; Config.MaxTTL caps it anyway.
const maxTTLMs = 1e12

// publicTTL reads a result's cacheScope and ttlMs: ok only for "public"
// with a positive ttl, on a complete result (a missing resultType is
// complete; input_required and task results are never cached).
func publicTTL(result json.RawMessage) (time.Duration, bool) {
	if !bytes.Contains(result, []byte(`"public"`)) {
		return 0, false
	}
	var r struct {
		TTLMs      float64 `json:"ttlMs"`
		CacheScope string  `json:"cacheScope"`
		ResultType string  `json:"resultType"`
	}
	if json.Unmarshal(result, &r) != nil || r.CacheScope != "public" || (r.ResultType != "" && r.ResultType != "complete") {
		return 0, false
	}
	if r.TTLMs < 1 {
		return 0, false
	}
	return time.Duration(min(r.TTLMs, maxTTLMs)) * time.Millisecond, true
}

// Key is the cache key of request m for server: the server, the method
// and the params without _meta in canonical form (members sorted, no
// space), so that two clients asking the same thing in different words
// share an entry; uri is the params.uri of a resources/read. ok is false
// for params that are not a JSON object.
func Key(server string, m *pipeline.Message) (key, uri string, ok bool) {
	params := map[string]any{}
	if len(m.Params) > 0 && !bytes.Equal(m.Params, []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(m.Params))
		d.UseNumber()
		if d.Decode(&params) != nil {
			return "", "", false
		}
	}
	delete(params, "_meta")
	b, err := json.Marshal(params)
	if err != nil {
		return "", "", false
	}
	if s, isString := params["uri"].(string); isString {
		uri = s
	}
	return server + "\x00" + m.Method + "\x00" + string(b), uri, true
}
