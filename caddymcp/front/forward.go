package front

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// HopHeader carries the token of a request one instance forwards to the
// instance that owns its session (hop.go).
const HopHeader = "Mcp-Cluster-Hop"

// HopWindow is how far a hop token's time may be from the owner's clock:
// instances' clocks must agree within it.
const HopWindow = 30 * time.Second

// maxHopNonces bounds the nonces an instance remembers (seal.Guard): about
// 35,000 forwarded requests a second over the window. Beyond it forwarded
// requests are answered 503 until older nonces go stale.
const maxHopNonces = 1 << 20

// Hops forwards requests between the instances of a cluster: one per
// process, shared by its endpoints and kept across reloads, since its
// connections to the other instances and the nonces it has seen are the
// process's, not a configuration's.
type Hops struct {
	transport *http.Transport
	guard     *seal.Guard

	// raw holds a remote.RawTransport per plain http:// owner (its
	// host): a hop made on the forwarding request's goroutine, without
	// the transport's reader and writer goroutines per connection and
	// the hand-offs between them, which were most of a hop's CPU.
	mu  sync.Mutex
	raw map[string]*remote.RawTransport
	// tlsVariants are the transports of node_trust_pool and
	// node_server_name settings (hoptls.go), the least recently made first.
	tlsVariants []hopTLSTransport
}

// maxRawOwners bounds the owners reached with a raw client; others go
// through the transport. Owners are node_urls sealed with the cluster's
// key, so they are the cluster's instances: a few.
const maxRawOwners = 64

// NewHops returns a Hops with its own connection pool.
func NewHops() *Hops {
	return &Hops{
		transport: &http.Transport{
			// Instances reach each other directly: no proxy from the
			// environment.
			Proxy: nil,
			DialContext: (&net.Dialer{
				// An owner that does not answer the dial is gone: its
				// sessions are lost, and the client should hear so soon.
				Timeout:   5 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			// Bytes pass as the owner wrote them; the client's own
			// Accept-Encoding is forwarded.
			DisableCompression: true,
			// No ResponseHeaderTimeout: an answer may take as long as the
			// owner's request_timeout; the client's leaving ends the hop.
		},
		guard: seal.NewGuard(HopWindow, maxHopNonces),
		raw:   make(map[string]*remote.RawTransport),
	}
}

// roundTripper is what carries a request to u: the owner's raw client
// when u is plain http and the request's body has a known length (written
// whole before the answer is read, which an owner reads whole before it
// answers anyway); else the transport, which streams a body of unknown
// length while the answer comes, and checks an https owner's certificate
// with t.
func (h *Hops) roundTripper(u *url.URL, contentLength int64, t HopTLS) http.RoundTripper {
	if u.Scheme == "https" {
		return h.tlsTransport(t)
	}
	if u.Scheme != "http" || contentLength < 0 {
		return h.transport
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rt, ok := h.raw[u.Host]
	if !ok && len(h.raw) < maxRawOwners {
		rt = remote.NewRawTransport(h.transport, u)
		h.raw[u.Host] = rt // nil too: the transport's settings rule it out
	}
	if rt == nil {
		return h.transport
	}
	return rt
}

// CloseIdleConnections closes the pool's idle connections (tests, and a
// process that stops being part of a cluster).
func (h *Hops) CloseIdleConnections() {
	h.transport.CloseIdleConnections()
	h.mu.Lock()
	raws := make([]*remote.RawTransport, 0, len(h.raw))
	for _, rt := range h.raw {
		if rt != nil {
			raws = append(raws, rt)
		}
	}
	variants := append([]hopTLSTransport(nil), h.tlsVariants...)
	h.mu.Unlock()
	for _, rt := range raws {
		rt.CloseIdleConnections()
	}
	for _, v := range variants {
		v.tr.CloseIdleConnections()
	}
}

// isHopByHop reports whether the (canonical) header k belongs to one
// connection, which a proxy does not pass on (RFC 9110, 7.6.1), besides
// those the Connection header names.
func isHopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect":
		return true
	}
	return false
}

// copyEndToEnd copies the headers of src that are not hop-by-hop into dst.
// The value slices are shared, not copied: src is a request or answer
// that is passed on and not changed after, and dst's values are only
// replaced (Set, Del), never changed in place.
func copyEndToEnd(dst, src http.Header) {
	for k, vv := range src {
		if !isHopByHop(k) {
			dst[k] = vv
		}
	}
	for _, f := range src["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			dst.Del(strings.TrimSpace(name))
		}
	}
}

// errOwnerGone says that the instance owning a session did not answer.
type errOwnerGone struct{ err error }

func (e errOwnerGone) Error() string { return "the owner did not answer: " + e.err.Error() }

func (e errOwnerGone) Unwrap() error { return e.err }

// hopTo is where and how a request is forwarded.
type hopTo struct {
	target *url.URL // the owner's node_url, the client's path and query (hopTarget)
	token  string   // the hop token (seal.SealHop)
	tls    HopTLS   // how an https owner's certificate is checked
	replay int64    // the largest body kept to be sent again (max_message_size)
}

// forward sends r to the owner with the hop token, and streams the owner's
// answer back: the request body as it comes, each read of the answer
// flushed when it is an event stream. It returns an errOwnerGone when the
// owner gave no answer, for the caller to answer the client; once the
// answer has begun, a failure only ends it (the client resumes a stream
// with Last-Event-ID, or re-sends).
//
// ctx is the hop's: the client's leaving, or the process's exit, ends it.
func (h *Hops) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, to hopTo) error {
	out := &http.Request{Method: r.Method, URL: to.target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, len(r.Header)+3), ContentLength: r.ContentLength}
	if err := setHopBody(out, r, to.replay); err != nil {
		writeError(w, http.StatusBadRequest, nil, pipeline.CodeParseError, "Bad Request: reading the body failed: "+err.Error())
		return nil
	}
	out = out.WithContext(ctx)
	copyEndToEnd(out.Header, r.Header)
	// The owner's route judges the request as this one's did: same Host
	// (the same site, the same mcp_auth), same Authorization.
	out.Host = r.Host
	out.Header.Set(HopHeader, to.token)
	// The owner takes a hop token once (seal.Guard): a request it has read
	// is refused if it comes again, never served twice. So a hop whose
	// kept-alive connection ended before the answer came (the owner closed
	// it as the request went) may be sent again on a new connection, with
	// the same token, as net/http and the raw client send again a request
	// marked idempotent. The entry without a value is not sent.
	if _, ok := out.Header["Idempotency-Key"]; !ok {
		out.Header["Idempotency-Key"] = nil
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	// The owner may answer before the body has all come (a stream both
	// ways): without this, net/http would first drain the body here.
	_ = http.NewResponseController(w).EnableFullDuplex()
	resp, err := h.roundTrip(ctx, out, to.tls)
	if err != nil {
		return errOwnerGone{err}
	}
	defer resp.Body.Close()
	copyEndToEnd(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	copyAnswer(w, resp)
	return nil
}

// setHopBody gives out the body of r. A body of known length up to limit is
// read first, so that a hop that meets a stale connection can send it
// again (GetBody): the owner reads a message whole before it answers
// anyway. A longer one, or one of unknown length, streams as it comes, and
// is not sent again.
func setHopBody(out, r *http.Request, limit int64) error {
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
		out.Body, out.ContentLength = http.NoBody, 0
	case r.GetBody != nil: // already in memory (statelessHop)
		out.Body, out.GetBody = r.Body, r.GetBody
	case r.ContentLength > 0 && r.ContentLength <= limit:
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return err
		}
		out.Body = io.NopCloser(bytes.NewReader(b))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	default:
		out.Body = r.Body
	}
	return nil
}

// forwardHop forwards r to the owner at target with token (Hops.forward),
// with the cluster's TLS settings.
func (s *Server) forwardHop(ctx context.Context, w http.ResponseWriter, r *http.Request, target *url.URL, token string) error {
	c := s.cfg.Cluster
	return c.Hops.forward(ctx, w, r, hopTo{target: target, token: token, tls: c.HopTLS, replay: s.cfg.MaxMessageSize})
}

// logOwnerGone logs what the owner's not answering meant (msg) and why.
func (s *Server) logOwnerGone(msg, owner string, err error) {
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		msg += "; its certificate did not verify: set the cluster's node_trust_pool (and node_server_name) to the CA and name of the instances' certificates"
	}
	s.cfg.Logger.Warn(msg, zap.String("owner", owner), zap.Error(err))
}

// hopAttempts bounds how many times a hop is sent.
const hopAttempts = 3

// roundTrip sends out to its owner, again (up to hopAttempts in all) when
// it got no answer and its body can be sent again: an owner being reloaded
// drops a request its old server read once its shutdown had begun — on a
// kept-alive connection or on a new one its old listener took just before
// it closed — closing the connection without a word (net/http's
// conn.serve). Sending the hop again never has it served twice: the owner
// records the token's nonce when it serves a request, and refuses it after.
// An owner that cannot be dialled is not asked again: it is gone.
func (h *Hops) roundTrip(ctx context.Context, out *http.Request, tlsCfg HopTLS) (*http.Response, error) {
	rt := h.roundTripper(out.URL, out.ContentLength, tlsCfg)
	resp, err := rt.RoundTrip(out)
	for attempt := 1; err != nil && attempt < hopAttempts && ctx.Err() == nil && !isDialError(err); attempt++ {
		again := *out
		if out.GetBody != nil {
			body, gerr := out.GetBody()
			if gerr != nil {
				return nil, err
			}
			again.Body = body
		} else if out.Body != nil && out.Body != http.NoBody {
			return nil, err // a body streamed once cannot be sent again
		}
		resp, err = rt.RoundTrip(&again)
	}
	return resp, err
}

// isDialError reports whether err is a failure to connect.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// copyAnswer streams the owner's answer to the client until it ends, the
// client leaves, or the owner goes.
func copyAnswer(w http.ResponseWriter, resp *http.Response) {
	rc := http.NewResponseController(w)
	events := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	if events {
		_ = rc.Flush() // the headers, before the first event
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if events {
				if rc.Flush() != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
