package front

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// Error codes of the 2026-07-28 revision.
const (
	codeHeaderMismatch             = -32020
	codeUnsupportedProtocolVersion = -32022
)

// statelessVersions are the stateless revisions the front serves.
var statelessVersions = []string{Version20260728}

// allVersions is what a -32022 answer lists: every revision this endpoint
// serves, newest first.
var allVersions = append(append([]string{}, statelessVersions...), Version20251125, Version20250618, Version20250326)

// metaKeys are the `_meta` keys of a 2026-07-28 request.
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
)

// serveStateless serves a 2026-07-28 request: no session, each request on its
// own, answered as JSON or as an SSE stream without event ids; the client
// closing that stream cancels the upstream work.
func (s *Server) serveStateless(w http.ResponseWriter, r *http.Request, msgs []*pipeline.Message, batch bool) {
	m := msgs[0]
	if batch {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeInvalidRequest, "Bad Request: 2026-07-28 requests are not batched")
		return
	}
	if m.IsResponse() {
		writeError(w, http.StatusBadRequest, m.ID, pipeline.CodeInvalidRequest,
			"Bad Request: 2026-07-28 clients send requests and notifications only")
		return
	}
	stateless := s.stateless
	if stateless == nil {
		// A route whose upstream serves only sessions is a legacy-only
		// server to a 2026 client, however the request looks.
		writeSessionsOnly(w, m)
		return
	}
	if status, code, msg, data := checkStateless(r, m); status != 0 {
		writeErrorData(w, status, m.ID, code, msg, data)
		return
	}
	if s.cfg.Cluster != nil && s.statelessHop(w, r, m) {
		return // forwarded to the instance its task id names, or a refused hop (hopstateless.go)
	}
	if ctx, tr := mcptrace.Start(r, m, mcptrace.Info{ProtocolVersion: m.MetaProtocolVersion()}, s.cfg.Trace); tr != nil {
		r = r.WithContext(ctx) // the stages, the taps and the upstream see the span
		defer tr.End(nil)      // when nothing answered
	}
	asked := s.asked(r, m)
	ex := s.statelessExchange(r)
	v := s.settings.chain.Start(r.Context(), ex, m) // a stage that waits holds only this request
	var held *statelessHold
	if v.Action == pipeline.Wait {
		if !m.IsRequest() {
			v = v.Pending.Resume(r.Context()) // a notification's answer (202) waits in place
		} else {
			kind := StreamStateless
			if m.Method == "subscriptions/listen" {
				kind = StreamListen
			}
			s.streamOpen(kind, 1) // the answer is a stream from now on
			defer s.streamOpen(kind, -1)
			var gone bool
			v, held, gone = s.holdStateless(w, r, m, v.Pending)
			if gone {
				return // cancelled while held: nothing reaches the server
			}
		}
	}
	// write answers the request without the upstream: as JSON, or on the
	// stream of a request that was held.
	write := func(status int, answer *pipeline.Message) {
		if held != nil {
			held.answer(answer)
			return
		}
		writeMessage(w, status, answer)
	}
	switch v.Action {
	case pipeline.Respond:
		s.statelessAnswered(w, asked, v.Message, replyPolicy(v.Message))
		write(http.StatusOK, v.Message)
		return
	case pipeline.Drop:
		s.refuseStateless(w, m, held, asked)
		return
	}
	req := &upstream.StatelessRequest{Message: v.Message, Header: mirroredHeaders(r.Header), User: s.userID(r)}
	if c := s.cfg.Cluster; c != nil {
		if !c.openStateless(req) { // clustertags.go
			invalid := tags.Invalid(m.ID)
			s.statelessAnswered(w, asked, invalid, PolicyNone)
			write(http.StatusOK, invalid)
			return
		}
		r = r.WithContext(tags.WithCluster(r.Context()))
	}
	release, ok := s.admitStateless(w, r, m, held)
	if !ok {
		return
	}
	defer release()
	s.forwardStateless(w, r, stateless, req, ex, held, asked)
}

// admitStateless takes a slot for a 2026-07-28 request about to go
// upstream. When ok is false there was none and it has answered the client:
// on the stream of a request that was held, else 429 or 503.
func (s *Server) admitStateless(w http.ResponseWriter, r *http.Request, m *pipeline.Message, held *statelessHold) (release func(), ok bool) {
	release, refused := s.statelessSlots.acquire(m.Method == "subscriptions/listen", s.clientKey(r), s.statelessLimits())
	if refused != admitted && held != nil {
		held.answer(pipeline.NewError(m.ID, pipeline.CodeInternalError, refusedMessage(refused)))
		return nil, false
	}
	switch refused {
	case refusedClient, refusedClientListens:
		writeRetryLater(w, http.StatusTooManyRequests, DefaultRetryAfter, m.ID, refusedMessage(refused))
		return nil, false
	case refusedTotal, refusedTotalListens:
		writeRetryLater(w, http.StatusServiceUnavailable, DefaultRetryAfter, m.ID, refusedMessage(refused))
		return nil, false
	}
	return release, true
}

// refusedMessage says why a 2026-07-28 request found no slot.
func refusedMessage(refused refusal) string {
	switch refused {
	case refusedClient:
		return "Too Many Requests: too many 2026-07-28 requests in flight from this client"
	case refusedClientListens:
		return "Too Many Requests: this client has " + strconv.Itoa(DefaultMaxListensPerClient) + " subscriptions/listen streams open; close one first"
	case refusedTotal:
		return "Service Unavailable: the gateway has as many 2026-07-28 requests in flight as it takes; retry later"
	case refusedTotalListens:
		return "Service Unavailable: the gateway has as many subscriptions/listen streams open as it takes; retry later"
	}
	return ""
}

// checkStateless validates the headers and `_meta` of a 2026-07-28 message
// against each other. It returns a zero status when the message is valid.
func checkStateless(r *http.Request, m *pipeline.Message) (status, code int, msg string, data any) {
	header := r.Header.Get("Mcp-Protocol-Version")
	meta := m.MetaProtocolVersion()
	if header == "" {
		return http.StatusBadRequest, codeHeaderMismatch, "Bad Request: 2026-07-28 requests need the MCP-Protocol-Version header", nil
	}
	if m.IsRequest() && meta == "" {
		return http.StatusBadRequest, pipeline.CodeInvalidParams, "Invalid params: params._meta[\"" + metaProtocolVersion + "\"] is required", nil
	}
	if meta != "" && meta != header {
		return http.StatusBadRequest, codeHeaderMismatch,
			"Bad Request: MCP-Protocol-Version header " + strconv.Quote(header) + " does not match params._meta " + strconv.Quote(meta), nil
	}
	if !isStatelessVersion(header) || !contains(statelessVersions, header) {
		return http.StatusBadRequest, codeUnsupportedProtocolVersion, "Unsupported protocol version " + strconv.Quote(header),
			unsupportedVersionData(header)
	}
	if m.IsRequest() && !hasMetaKey(m.Params, metaClientCapabilities) {
		return http.StatusBadRequest, pipeline.CodeInvalidParams, "Invalid params: params._meta[\"" + metaClientCapabilities + "\"] is required", nil
	}
	if got := r.Header.Get("Mcp-Method"); got != m.Method {
		return http.StatusBadRequest, codeHeaderMismatch,
			"Bad Request: Mcp-Method header " + strconv.Quote(got) + " does not match the body's method " + strconv.Quote(m.Method), nil
	}
	if name, named := bodyName(m); named {
		got, ok := upstream.DecodeHeaderValue(r.Header.Get("Mcp-Name"))
		if !ok || got != name {
			return http.StatusBadRequest, codeHeaderMismatch,
				"Bad Request: Mcp-Name header " + strconv.Quote(r.Header.Get("Mcp-Name")) + " does not match the body's " + strconv.Quote(name), nil
		}
	}
	return 0, 0, "", nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func hasMetaKey(params json.RawMessage, key string) bool {
	var p struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil {
		return false
	}
	_, ok := p.Meta[key]
	return ok
}

// bodyName returns what Mcp-Name must mirror: params.name of tools/call and
// prompts/get, params.uri of resources/read.
func bodyName(m *pipeline.Message) (string, bool) {
	var p struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	switch m.Method {
	case "tools/call", "prompts/get":
		_ = json.Unmarshal(m.Params, &p)
		return p.Name, true
	case "resources/read":
		_ = json.Unmarshal(m.Params, &p)
		return p.URI, true
	}
	return "", false
}

// mirroredHeaders are the client headers an HTTP upstream must see.
func mirroredHeaders(h http.Header) http.Header {
	out := make(http.Header, 4)
	for k, v := range h {
		if k == "Mcp-Protocol-Version" || k == "Mcp-Method" || k == "Mcp-Name" || strings.HasPrefix(k, "Mcp-Param-") {
			out[k] = v
		}
	}
	return out
}

// writeSessionsOnly answers a 2026 request as a server of the 2025 revisions
// does: dual-era clients read -32601 as "legacy" and fall back to
// initialize (docs/transports.md, "Telling the eras apart").
func writeSessionsOnly(w http.ResponseWriter, m *pipeline.Message) {
	writeError(w, http.StatusBadRequest, m.ID, pipeline.CodeMethodNotFound,
		"this endpoint serves MCP revisions 2025-03-26 to 2025-11-25 with sessions here; start with initialize")
}

// servedVersions are the revisions a client may use through this endpoint.
var servedVersions = append(append([]string{}, allVersions...), Version20241105)

// sharedVersions narrows a DiscoverResult's supportedVersions to those the
// gateway serves too: a client must not pick a revision the upstream knows
// and the gateway does not.
func sharedVersions(m *pipeline.Message) *pipeline.Message {
	if !m.IsResponse() || m.Result == nil {
		return m
	}
	var result map[string]json.RawMessage
	var offered []string
	if json.Unmarshal(m.Result, &result) != nil || json.Unmarshal(result["supportedVersions"], &offered) != nil {
		return m
	}
	shared := make([]string, 0, len(offered))
	for _, v := range offered {
		if contains(servedVersions, v) {
			shared = append(shared, v)
		}
	}
	if len(shared) == len(offered) {
		return m // the common case: forwarded byte for byte
	}
	result["supportedVersions"] = mustJSON(shared)
	return keepCached(m, pipeline.NewResult(m.ID, mustJSON(result)))
}

// writeStatelessMethodNotAllowed answers a GET or DELETE of a 2026-07-28
// client: that revision has only POST (its change notifications come over
// subscriptions/listen).
func writeStatelessMethodNotAllowed(w http.ResponseWriter) {
	w.Header().Set("Allow", "POST")
	writeError(w, http.StatusMethodNotAllowed, nil, pipeline.CodeInvalidRequest,
		"Method Not Allowed: MCP 2026-07-28 uses POST only; listen for notifications with subscriptions/listen")
}

// delivery is one message of a stateless answer and the status it came with.
type delivery struct {
	m          *pipeline.Message
	status     int
	retryAfter time.Duration // with a 503
	gateway    bool          // the gateway made m itself (pipeline.Exchange.Gateway)
}

// forwardStateless runs the upstream call on its own goroutine and streams its
// messages to the client. The call's deliveries go through a bounded queue
// so that a slow client never blocks the upstream's reader, which other
// clients share. When the client goes away the call's context ends: that is
// the 2026 cancellation.
//
// held, when not nil, is the stream a hold already started: everything
// goes on it.
func (s *Server) forwardStateless(w http.ResponseWriter, r *http.Request, up upstream.Stateless, req *upstream.StatelessRequest, ex *pipeline.Exchange, held *statelessHold, asked askedRequest) {
	ctx, cancel := s.untilExit(r.Context()) // exit ends (cancels) 2026 calls and listen streams
	q := newDeliveryQueue(s.cfg.ReplayEvents, req.Message.ID, func() {
		s.cfg.Logger.Warn("a 2026-07-28 client fell too far behind its stream; cancelling its request",
			zap.Int("queued", s.cfg.ReplayEvents))
		cancel()
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.callStateless(ctx, up, req, q)
	}()
	// However the handler leaves, the call ends before it returns, and
	// Observer.OnAnswer hears how it ended.
	defer func() {
		cancel()
		wg.Wait()
		if !req.Message.IsNotification() {
			s.statelessAnswered(w, asked, q.finalMessage(), PolicyNone)
		}
	}()

	// The writer follows the client's context, not the call's: a call the
	// queue cancelled still owes the client its final error.
	client := r.Context()
	out := held.outbound(s.statelessOutbound(client, ex, req.Message), s.cfg.Logger)
	await := func() *delivery { // the next delivery that passed the pipeline
		for d := q.await(client); d != nil; d = q.await(client) {
			if d = out(d); d != nil {
				return d
			}
		}
		return nil
	}
	if req.Message.IsNotification() {
		if d := q.await(client); d != nil && d.m != nil && d.m.IsResponse() && d.status >= 300 {
			writeMessage(w, d.status, d.m)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var sw *sseWriter
	if held != nil {
		sw = held.sw // decided when it was held
	} else {
		first, second, done := awaitFirst(w, await)
		if done {
			return
		}
		sw = startSSE(w, http.StatusOK)
		kind := StreamStateless
		if req.Message.Method == "subscriptions/listen" {
			kind = StreamListen
		}
		s.streamOpen(kind, 1)
		defer s.streamOpen(kind, -1)
		sw.event("", first.m.Raw)
		if second != nil {
			sw.event("", second.m.Raw)
		}
	}
	s.streamDeliveries(client, sw, q, out, await)
}

// awaitFirst awaits the first deliveries of a call that was not held, to
// choose its answer: a lone response is answered as JSON, and done is true
// then, or when the client went away or the call ended with nothing.
// Otherwise the answer is a stream that starts with first and, when not
// nil, second.
func awaitFirst(w http.ResponseWriter, await func() *delivery) (first, second *delivery, done bool) {
	if first = await(); first == nil {
		return nil, nil, true
	}
	if first.m.IsResponse() {
		// Call returns right after the response: the queue ends at once
		// unless something follows.
		if second = await(); second == nil {
			status := first.status
			if status == 0 {
				status = http.StatusOK
			}
			if first.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(max(first.retryAfter/time.Second, 1))))
			}
			writeMessage(w, status, first.m)
			return nil, nil, true
		}
	}
	return first, second, false
}

// callStateless makes the upstream call of a 2026-07-28 request, its
// messages pushed to q, and finishes q with the gateway's error answer
// when the call failed while the client still waits.
func (s *Server) callStateless(ctx context.Context, up upstream.Stateless, req *upstream.StatelessRequest, q *deliveryQueue) {
	deliver := q.push
	if req.Message.Method == "server/discover" {
		deliver = func(m *pipeline.Message, status int) { q.push(sharedVersions(m), status) }
	}
	if c := s.cfg.Cluster; c != nil {
		deliver = c.sealingDeliver(req.User, deliver) // clustertags.go
	}
	err := up.Call(ctx, req, deliver)
	var busy *upstream.BusyError
	switch {
	case errors.As(err, &busy) && ctx.Err() == nil:
		// busy's own text, not err's: a federation joins its servers'
		// errors, and another server's may name its address
		q.finish(&delivery{status: http.StatusServiceUnavailable, retryAfter: busy.RetryAfter, gateway: true,
			m: pipeline.NewError(req.Message.ID, pipeline.CodeInternalError, "Service Unavailable: "+busy.Error())})
	case errors.Is(err, upstream.ErrSessionfulOnly):
		q.finish(&delivery{status: http.StatusBadRequest, gateway: true, m: pipeline.NewError(req.Message.ID, pipeline.CodeMethodNotFound,
			"this endpoint's MCP server speaks only the 2025 revisions; start with initialize")})
	case err != nil && ctx.Err() == nil:
		msg, data := publicFailure(s.cfg.Logger, s.cfg.VerboseErrors,
			"the upstream MCP server failed this request; the gateway's log has the cause under the correlation_id",
			"a 2026-07-28 request to the upstream failed", err)
		q.finish(&delivery{status: http.StatusBadGateway, gateway: true, m: pipeline.NewErrorWithData(req.Message.ID, pipeline.CodeInternalError, msg, data)})
	default:
		q.finish(nil)
	}
}

// streamDeliveries writes q's deliveries that pass the pipeline (out) as
// events of sw, with keep-alive comments, until the call is done (then
// what is still queued, and the final message) or the client leaves.
func (s *Server) streamDeliveries(client context.Context, sw *sseWriter, q *deliveryQueue, out func(*delivery) *delivery, await func() *delivery) {
	keepAlive := time.NewTicker(s.cfg.KeepAlive)
	defer keepAlive.Stop()
	for {
		if sw.flush() != nil {
			return
		}
		select {
		case d := <-q.ch:
			if d = out(d); d != nil {
				sw.event("", d.m.Raw)
			}
		case <-q.done:
			for d := await(); d != nil; d = await() {
				sw.event("", d.m.Raw)
			}
			_ = sw.flush()
			return
		case <-keepAlive.C:
			sw.comment("keepalive")
		case <-client.Done():
			return
		}
	}
}

// clientAddr is the host of the connection's remote address.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
