package oauth

import (
	"net/http"
	"net/url"
)

// Transport adds the TokenSource's bearer token to every request to one
// origin (the upstream's), so each request carries a current token: one
// obtained moments ago, or replaced before it expired. A 401 from the
// upstream discards the token (if not brand new) and the request is sent
// once more with a new one, when its body can be replayed. Requests to any
// other origin go out untouched: the gateway's credentials do not travel.
type Transport struct {
	// Source gives the tokens.
	Source *TokenSource
	// Origin is scheme://host[:port] of the upstream.
	Origin string
	// Base makes the requests.
	Base http.RoundTripper
}

// OriginOf is the scheme://host[:port] of an absolute URL.
func OriginOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

// CredentialsError is a request that could not be sent because no token
// could be obtained. Its PublicCause names no URL; Err, with the detail,
// is for the log.
type CredentialsError struct {
	Err error
}

func (e *CredentialsError) Error() string {
	return "obtaining the gateway's access token for the upstream: " + e.Err.Error()
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// PublicCause is what a client may read.
func (e *CredentialsError) PublicCause() string {
	return "the gateway could not obtain its access token for it"
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if OriginOf(req.URL) != t.Origin {
		return t.Base.RoundTrip(req)
	}
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, &CredentialsError{Err: err}
	}
	resp, err := t.Base.RoundTrip(withBearer(req, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable || !t.Source.Invalidate(tok) {
		return resp, nil
	}
	again := withBearer(req, "")
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		again.Body = body
	}
	if tok, err = t.Source.Token(req.Context()); err != nil {
		closeBody(again)
		return resp, nil // the upstream's 401 says more than our failure
	}
	_ = resp.Body.Close()
	again.Header.Set("Authorization", "Bearer "+tok)
	return t.Base.RoundTrip(again)
}

// withBearer is a shallow copy of req with its own headers carrying tok
// (none when empty): a RoundTripper must not change the request it got.
func withBearer(req *http.Request, tok string) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = req.Header.Clone()
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

// closeBody closes a request body that will not be sent, as RoundTrip
// must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
