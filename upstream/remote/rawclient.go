package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// rawClient is the RoundTripper of a plain http:// upstream reached with
// an *http.Transport that uses no feature it lacks: it makes each HTTP/1.1
// request on the calling goroutine, writing the request and reading the
// response on a pooled keep-alive connection itself. http.Transport runs two
// goroutines per connection (a reader and a writer) and hands every request
// and response between them and the caller; on a proxied call that was four
// goroutine switches and their wake-ups, a quarter of the gateway's
// scheduling work (issue 27). Requests to another host or scheme (an
// HTTP+SSE endpoint elsewhere) go to the transport.
type rawClient struct {
	tr          *http.Transport
	host        string // the upstream's host:port, as in its URL
	addr        string // what to dial (host with the default port)
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	idleTimeout time.Duration
	maxIdle     int
	maxHeader   int64
	rbuf, wbuf  int

	mu    sync.Mutex
	idle  []*rawConn // the most recently used last
	sweep *time.Timer

	tailMissed atomic.Int64 // when a rest of a body last failed to come (finishTail), in Unix ns
}

// newRawClient returns the raw client for u and rt, or nil when rt is not
// an *http.Transport whose settings it honours entirely (a proxy, HTTP/2
// without TLS, a connection limit, its own header timeout, no keep-alive)
// or u is not plain http.
func newRawClient(rt http.RoundTripper, u *url.URL) *rawClient {
	tr, ok := rt.(*http.Transport)
	if !ok || u.Scheme != "http" || tr.DisableKeepAlives || tr.MaxConnsPerHost > 0 ||
		tr.ResponseHeaderTimeout > 0 || legacyDial(tr) || tr.OnProxyConnectResponse != nil ||
		(tr.Protocols != nil && !tr.Protocols.HTTP1()) {
		return nil
	}
	if tr.Proxy != nil {
		if p, err := tr.Proxy(&http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}}); err != nil || p != nil {
			return nil
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	c := &rawClient{tr: tr, host: u.Host, addr: net.JoinHostPort(u.Hostname(), port), dial: tr.DialContext,
		idleTimeout: tr.IdleConnTimeout, maxIdle: tr.MaxIdleConnsPerHost, maxHeader: tr.MaxResponseHeaderBytes,
		rbuf: tr.ReadBufferSize, wbuf: tr.WriteBufferSize}
	if c.dial == nil {
		c.dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if c.maxIdle <= 0 {
		c.maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if c.maxHeader <= 0 {
		c.maxHeader = 10 << 20 // http.Transport's default
	}
	return c
}

// legacyDial reports whether tr dials with its deprecated Dial hook
// alone, which the raw client does not call.
func legacyDial(tr *http.Transport) bool {
	//lint:ignore SA1019 only read, to leave such a transport its own dialling
	return tr.DialContext == nil && tr.Dial != nil
}

// rawConn is one keep-alive connection to the upstream.
type rawConn struct {
	net.Conn
	sys  syscall.RawConn // its descriptor, for peekable; nil if it has none
	lim  limitedReader   // the connection under br: bounds the response header
	cw   countedWriter   // the connection under bw
	br   *bufio.Reader
	bw   *bufio.Writer
	used time.Time // when it went idle
	// abort ends a blocked read or write at once; made once per
	// connection, not a closure per request.
	abort func()
	// tail is the rest of the last response's body, left unread
	// (rawBody.leaveTail): the next request reads it first.
	tail io.Reader
}

// limitedReader reads from a connection, at most n bytes while n >= 0,
// and counts what it read (got: whether any of an answer came).
type limitedReader struct {
	c   net.Conn
	n   int64
	got int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if l.n > 0 && int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.got += int64(n)
	if l.n > 0 {
		l.n -= int64(n)
	}
	return n, err
}

// countedWriter writes to a connection and counts what it took (n:
// whether any of a request was written).
type countedWriter struct {
	c net.Conn
	n int64
}

func (w *countedWriter) Write(p []byte) (int, error) {
	n, err := w.c.Write(p)
	w.n += int64(n)
	return n, err
}

var errHeaderTooLarge = errors.New("the response header exceeds the transport's MaxResponseHeaderBytes")

// aLongTimeAgo is a deadline that has passed: set, it ends a blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip makes req on a pooled connection (or a new one) and returns
// the response as soon as its header is read; its body reads from the
// connection, which goes back to the pool once the body was read to its end.
// A request that failed on a pooled connection before any byte of the
// answer came is made once more on a new connection when mayRetry allows
// it (rawretry.go).
func (c *rawClient) RoundTrip(req *http.Request) (*http.Response, error) {
	return c.roundTripWrote(req, nil)
}

// roundTripWrote is RoundTrip that calls wrote, if set, once the request
// is on the wire: what an httptrace.ClientTrace's WroteRequest reports,
// without the trace, its closure and the context value that carries it
// per request (issue 27). A request the transport makes gets that trace.
func (c *rawClient) roundTripWrote(req *http.Request, wrote func()) (*http.Response, error) {
	if !c.makes(req) {
		if wrote != nil {
			req = req.WithContext(withWroteTrace(req.Context(), wrote))
		}
		return c.tr.RoundTrip(req)
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		closeBody(req)
		return nil, context.Cause(ctx)
	}
	resp, again, err := c.roundTrip(ctx, req, false, wrote)
	return c.orAgain(req, wrote, resp, again, err)
}

// orAgain makes req once more on a new connection when its first try
// failed on a pooled one in a way that allows it (again, see mayRetry).
func (c *rawClient) orAgain(req *http.Request, wrote func(), resp *http.Response, again bool, err error) (*http.Response, error) {
	if again {
		if retry, ok := rewind(req); ok {
			resp, _, err = c.roundTrip(req.Context(), retry, true, wrote)
		}
	}
	return resp, err
}

// makes reports whether the raw client makes req itself: a plain http://
// request to its upstream's host that sets no Connection header. Others
// go to the transport.
func (c *rawClient) makes(req *http.Request) bool {
	return req.URL.Scheme == "http" && req.URL.Host == c.host && req.Header.Get("Connection") == ""
}

// withWroteTrace returns ctx with a ClientTrace that calls wrote once a
// request was written without error.
func withWroteTrace(ctx context.Context, wrote func()) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote()
			}
		},
	})
}

// roundTrip makes req once, on a pooled connection unless fresh, and
// calls wrote, if set, once it is written. again reports that it failed in
// a way that allows making it once more on a new connection (mayRetry).
func (c *rawClient) roundTrip(ctx context.Context, req *http.Request, fresh bool, wrote func()) (_ *http.Response, again bool, _ error) {
	conn, reused, err := c.get(ctx, fresh)
	if err != nil {
		closeBody(req)
		return nil, false, err
	}
	x := rawCall{c: c, ctx: ctx, req: req, conn: conn, reused: reused}
	if again, err := x.send(wrote); err != nil {
		return nil, again, err
	}
	return x.receive()
}

// rawCall is one request of the raw client on one of its connections.
type rawCall struct {
	c      *rawClient
	ctx    context.Context
	req    *http.Request
	conn   *rawConn
	reused bool        // conn came from the pool
	stop   func() bool // stops the request's cancellation
}

// send writes the request and calls wrote, if set, once it is written.
// A cancelled request ends a blocked read or write at once; the
// connection is not used again.
func (x *rawCall) send(wrote func()) (again bool, _ error) {
	x.stop = context.AfterFunc(x.ctx, x.conn.abort)
	x.conn.cw.n, x.conn.lim.got = 0, 0
	err := writeRequest(x.conn.bw, x.req)
	if err == nil {
		err = x.conn.bw.Flush()
	}
	if trace := httptrace.ContextClientTrace(x.ctx); trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if wrote != nil && err == nil {
		wrote()
	}
	if err != nil {
		_, again, err = x.fail(err, false)
		return again, err
	}
	return false, nil
}

// receive reads the response header; the body reads from the connection.
func (x *rawCall) receive() (*http.Response, bool, error) {
	conn := x.conn
	for {
		conn.lim.n = x.c.maxHeader
		resp, err := http.ReadResponse(conn.br, x.req)
		if err != nil {
			return x.fail(err, true)
		}
		// A 1xx other than 101 is followed by the real response.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			conn.lim.n = -1
			resp.Body = &rawBody{body: resp.Body, c: x.c, conn: conn, stop: x.stop, ctx: x.ctx, reuse: !resp.Close}
			return resp, false, nil
		}
	}
}

// fail ends a request that failed: its connection is closed.
func (x *rawCall) fail(err error, reading bool) (*http.Response, bool, error) {
	x.stop()
	_ = x.conn.Close()
	if x.ctx.Err() != nil {
		return nil, false, context.Cause(x.ctx)
	}
	return nil, x.reused && mayRetry(x.req, x.conn.cw.n == 0, reading && x.conn.lim.got == 0), err
}

// writeRequest writes req as http.Transport would: headers checked as it
// checks them, then what Request.Write writes. The requests this
// package makes (a body of known length, or none) are written directly:
// Request.Write sorted the headers through a pool and built a transfer
// writer, a dozen allocations per call.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	hasBody := req.Body != nil && req.Body != http.NoBody
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	// Request.Write refuses a Host that would break the request line
	// (and drops an IPv6 zone); the owner of a hop reads what is written.
	if req.ContentLength < 0 || (hasBody != (req.ContentLength > 0)) || len(req.TransferEncoding) > 0 ||
		req.Trailer != nil || req.Close || req.URL.Opaque != "" || req.Method == "" ||
		!httpguts.ValidHostHeader(host) || strings.IndexByte(host, '%') >= 0 {
		return req.Write(bw)
	}
	if strings.IndexFunc(req.Method, func(r rune) bool { return !httpguts.IsTokenRune(r) }) >= 0 {
		closeBody(req)
		return fmt.Errorf("net/http: invalid method %q", req.Method) // as http.Transport refuses it
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			closeBody(req)
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				closeBody(req)
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	_, _ = bw.WriteString(req.Method)
	_ = bw.WriteByte(' ')
	_, _ = bw.WriteString(req.URL.RequestURI())
	_, _ = bw.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = bw.WriteString(host)
	_, _ = bw.WriteString("\r\n")
	ua, set := req.Header["User-Agent"]
	switch {
	case !set:
		_, _ = bw.WriteString("User-Agent: Go-http-client/1.1\r\n")
	case len(ua) > 0 && ua[0] != "": // an empty one is left out
		_, _ = bw.WriteString("User-Agent: ")
		_, _ = bw.WriteString(strings.Trim(ua[0], " \t"))
		_, _ = bw.WriteString("\r\n")
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // written above or below, as Request.Write does
		}
		for _, v := range vs {
			_, _ = bw.WriteString(k)
			_, _ = bw.WriteString(": ")
			_, _ = bw.WriteString(strings.Trim(v, " \t"))
			_, _ = bw.WriteString("\r\n")
		}
	}
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		hasBody = true // an empty one too: many servers expect the length
	}
	if hasBody {
		_, _ = bw.WriteString("Content-Length: ")
		var n [20]byte
		_, _ = bw.Write(strconv.AppendInt(n[:0], req.ContentLength, 10))
		_, _ = bw.WriteString("\r\n")
	}
	_, err := bw.WriteString("\r\n")
	if req.ContentLength > 0 {
		var written int64
		written, err = io.Copy(bw, req.Body)
		closeBody(req)
		if err == nil && written != req.ContentLength {
			err = fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, written)
		}
	}
	return err
}

// closeBody closes the body of a request that is not sent, as a
// RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// get returns an idle connection that the server has not closed (reused),
// or dials a new one: always when fresh.
func (c *rawClient) get(ctx context.Context, fresh bool) (_ *rawConn, reused bool, _ error) {
	if !fresh {
		if conn := c.getIdle(); conn != nil {
			return conn, true, nil
		}
	}
	nc, err := c.dial(ctx, "tcp", c.addr)
	if err != nil {
		return nil, false, err
	}
	conn := &rawConn{Conn: nc}
	conn.abort = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	if sc, ok := nc.(syscall.Conn); ok {
		conn.sys, _ = sc.SyscallConn()
	}
	conn.lim = limitedReader{c: nc, n: -1}
	conn.cw = countedWriter{c: nc}
	conn.br = bufio.NewReaderSize(&conn.lim, max(c.rbuf, 4096))
	conn.bw = bufio.NewWriterSize(&conn.cw, max(c.wbuf, 4096))
	return conn, false, nil
}

// trustIdle is how long a connection that cannot be asked whether the
// server closed it is used again after its last response.
const trustIdle = time.Second

// reusable reports whether an idle connection may carry the next request:
// not idle too long, and not closed by the server (or, if that cannot be
// asked, used within trustIdle).
func (c *rawClient) reusable(conn *rawConn) bool {
	idle := time.Since(conn.used)
	if c.idleTimeout > 0 && idle > c.idleTimeout {
		return false
	}
	alive, asked := peekable(conn.sys)
	if !asked {
		return idle < trustIdle
	}
	return alive
}

// put keeps conn for the next request, or closes it when the pool is full.
// The pool is taken from its end, the connection used last first.
func (c *rawClient) put(conn *rawConn) {
	conn.used = time.Now()
	c.mu.Lock()
	if len(c.idle) >= c.maxIdle {
		c.mu.Unlock()
		_ = conn.Close()
		return
	}
	if conn.tail != nil {
		// Taken last: the rest of its body, which the next request
		// reads first, has the most time to come (finishTail).
		c.idle = slices.Insert(c.idle, 0, conn)
	} else {
		c.idle = append(c.idle, conn)
	}
	if c.sweep == nil && c.idleTimeout > 0 {
		c.sweep = time.AfterFunc(c.idleTimeout, c.closeStale)
	}
	c.mu.Unlock()
}

// closeStale closes the connections idle for longer than the idle timeout,
// and looks again later while any are left.
func (c *rawClient) closeStale() {
	c.mu.Lock()
	var stale []*rawConn
	keep := c.idle[:0]
	for _, conn := range c.idle {
		if time.Since(conn.used) >= c.idleTimeout {
			stale = append(stale, conn)
		} else {
			keep = append(keep, conn)
		}
	}
	clear(c.idle[len(keep):])
	c.idle = keep
	c.sweep = nil
	if len(c.idle) > 0 {
		c.sweep = time.AfterFunc(c.idleTimeout, c.closeStale)
	}
	c.mu.Unlock()
	for _, conn := range stale {
		_ = conn.Close()
	}
}

// closeIdle closes the idle connections (not the transport's). The
// client stays usable.
func (c *rawClient) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conn := range idle {
		_ = conn.Close()
	}
}
