package remote

import (
	"net/http"
	"net/url"
)

// RawTransport is the client of rawclient.go for one plain http:// host,
// for other packages that forward requests to such a host (the hops
// between a cluster's instances): HTTP/1.1 made on the caller's goroutine
// over pooled keep-alive connections, without http.Transport's two
// goroutines per connection. A request to another host or scheme, or one
// the client does not write itself, goes to the *http.Transport it was made
// from, with that transport's settings.
type RawTransport struct{ c *rawClient }

// NewRawTransport returns the RawTransport for the host of u, or nil when
// u is not plain http or tr has a setting the raw client does not honour
// (a proxy, HTTP/2 without TLS, a connection limit, a response header
// timeout, no keep-alive): then tr itself should be used.
func NewRawTransport(tr *http.Transport, u *url.URL) *RawTransport {
	c := newRawClient(tr, u)
	if c == nil {
		return nil
	}
	return &RawTransport{c: c}
}

// RoundTrip implements http.RoundTripper. The request body is written
// whole before the response is read: the answer cannot begin before the
// request ends, as a server that reads a whole message first needs.
func (t *RawTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.c.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the raw client (not
// those of the transport it falls back to).
func (t *RawTransport) CloseIdleConnections() { t.c.closeIdle() }
