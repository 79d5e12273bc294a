package front

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/seal"
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
}

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
	}
}

// CloseIdleConnections closes the pool's idle connections (tests, and a
// process that stops being part of a cluster).
func (h *Hops) CloseIdleConnections() { h.transport.CloseIdleConnections() }

// hopByHop are the headers of one connection, which a proxy does not pass
// on (RFC 9110, 7.6.1), besides those the Connection header names.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect"}

// copyEndToEnd copies the headers of src that are not hop-by-hop into dst.
func copyEndToEnd(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append([]string(nil), vv...)
	}
	for _, f := range src.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			dst.Del(strings.TrimSpace(name))
		}
	}
	for _, k := range hopByHop {
		dst.Del(k)
	}
}

// errOwnerGone says that the instance owning a session did not answer.
type errOwnerGone struct{ err error }

func (e errOwnerGone) Error() string { return "the owner did not answer: " + e.err.Error() }

// forward sends r to target (the owner's node_url, the client's path and
// query) with token, and streams the owner's answer back: the request body
// as it comes, each read of the answer flushed when it is an event stream.
// It returns an errOwnerGone when the owner gave no answer, for the caller
// to answer the client; once the answer has begun, a failure only ends it
// (the client resumes a stream with Last-Event-ID, or re-sends).
//
// ctx is the hop's: the client's leaving, or the process's exit, ends it.
func (h *Hops) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, target, token string) error {
	var body io.Reader
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		body = r.Body
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, target, body)
	if err != nil {
		return errOwnerGone{err}
	}
	out.ContentLength = r.ContentLength
	if body == nil {
		out.ContentLength = 0
	}
	copyEndToEnd(out.Header, r.Header)
	// The owner's route judges the request as this one's did: same Host
	// (the same site, the same mcp_auth), same Authorization.
	out.Host = r.Host
	out.Header.Set(HopHeader, token)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	// The owner may answer before the body has all come (a stream both
	// ways): without this, net/http would first drain the body here.
	_ = http.NewResponseController(w).EnableFullDuplex()
	resp, err := h.transport.RoundTrip(out)
	if err != nil {
		return errOwnerGone{err}
	}
	defer resp.Body.Close()
	copyEndToEnd(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	copyAnswer(w, resp)
	return nil
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
