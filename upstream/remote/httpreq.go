package remote

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// requestURL returns the URL requests to u are made with: u as
// http.NewRequest would parse it (an empty port dropped from the host).
func requestURL(u *url.URL) *url.URL {
	r := *u
	if strings.LastIndex(r.Host, ":") > strings.LastIndex(r.Host, "]") {
		r.Host = strings.TrimSuffix(r.Host, ":")
	}
	return &r
}

// newRequest is http.NewRequestWithContext(ctx, method, target, body)
// without parsing target again when it is the upstream's URL (a fifth of
// the request's allocations and its parse, issue 27): the request gets its
// own copy of the parsed URL, since a RoundTripper or a redirect may change
// its request's URL but must not change the upstream's.
func (h *HTTP) newRequest(ctx context.Context, method, target string, body []byte) (*http.Request, error) {
	if target != h.url {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		return http.NewRequestWithContext(ctx, method, target, rd)
	}
	u := new(url.URL)
	*u = *h.u
	req := (&http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Host:       u.Host,
	}).WithContext(ctx)
	if body != nil {
		// As NewRequestWithContext sets them for a *bytes.Reader.
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		if len(body) == 0 {
			req.Body = http.NoBody
			req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		}
	}
	return req, nil
}
