package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func newSource(t *testing.T, as interface{ TokenURL() string }, cfg ClientCredentials) *TokenSource {
	t.Helper()
	cfg.TokenURL = as.TokenURL()
	s, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type asURL string

func (u asURL) TokenURL() string { return string(u) + "/token" }

// TestTokenSource: a token is obtained once, reused, replaced before it
// expires (callers keep the old one meanwhile), with the configured
// scopes, resource and client authentication.
func TestTokenSource(t *testing.T) {
	as := startAS(t)
	as.AddClient("gw", "gw-secret", "default")
	as.SetTokenTTL(10 * time.Minute)
	clock := &fakeClock{t: time.Now()}
	for _, method := range []string{ClientSecretBasic, ClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			s := newSource(t, asURL(as.URL), ClientCredentials{ClientID: "gw", ClientSecret: "gw-secret",
				Scopes: []string{"up:read", "up:write"}, Resource: "https://up.example.com/mcp", AuthMethod: method, Now: clock.now})
			first, err := s.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if as.LastClientAuth() != method {
				t.Fatalf("client authenticated with %s, want %s", as.LastClientAuth(), method)
			}
			v, err := NewValidator(Config{Resource: "https://up.example.com/mcp", Issuers: []string{as.URL}})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Validate(context.Background(), first)
			if err != nil || strings.Join(c.Scopes, " ") != "up:read up:write" || c.Subject != "gw" {
				t.Fatalf("the token: %+v %v", c, err)
			}
			clock.advance(8 * time.Minute)
			if tok, _ := s.Token(context.Background()); tok != first || s.Fetches() != 1 {
				t.Fatalf("not reused: %d fetches", s.Fetches())
			}
			clock.advance(90 * time.Second) // within a minute of expiry: replaced
			second, err := s.Token(context.Background())
			if err != nil || second == first || s.Fetches() != 2 {
				t.Fatalf("not replaced before expiry: %d fetches, err %v", s.Fetches(), err)
			}
		})
	}
}

// TestTokenSourceFailures: what the endpoint's refusals become (for the
// log), a valid token kept while the endpoint fails, and no request per
// caller while it is down.
func TestTokenSourceFailures(t *testing.T) {
	as := startAS(t)
	as.AddClient("gw", "gw-secret")
	clock := &fakeClock{t: time.Now()}
	bad := newSource(t, asURL(as.URL), ClientCredentials{ClientID: "gw", ClientSecret: "wrong", Now: clock.now})
	if _, err := bad.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("bad secret: %v", err)
	}
	if _, err := bad.Token(context.Background()); err == nil || bad.Fetches() != 1 {
		t.Fatalf("asked again at once: %d fetches", bad.Fetches())
	}

	var down sync.Mutex
	isDown := false
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		down.Lock()
		d := isDown
		down.Unlock()
		if d {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"t1","token_type":"bearer","expires_in":120}`))
	}))
	t.Cleanup(flaky.Close)
	s := newSource(t, asURL(flaky.URL), ClientCredentials{ClientID: "gw", Now: clock.now})
	if tok, err := s.Token(context.Background()); err != nil || tok != "t1" {
		t.Fatalf("%q %v", tok, err)
	}
	down.Lock()
	isDown = true
	down.Unlock()
	clock.advance(70 * time.Second) // due for replacement, still valid
	if tok, err := s.Token(context.Background()); err != nil || tok != "t1" {
		t.Fatalf("while the endpoint fails a valid token is used: %q %v", tok, err)
	}
	clock.advance(60 * time.Second) // expired
	if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("expired and endpoint down: %v", err)
	}

	for _, body := range []string{`{"token_type":"Bearer"}`, `{"access_token":"x","token_type":"mac"}`, `not json`} {
		odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		s := newSource(t, asURL(odd.URL), ClientCredentials{ClientID: "gw"})
		if _, err := s.Token(context.Background()); err == nil {
			t.Errorf("answer %s accepted", body)
		}
		odd.Close()
	}
}

func TestNewTokenSourceRefusesBadConfig(t *testing.T) {
	for _, cfg := range []ClientCredentials{
		{TokenURL: "not a url", ClientID: "x"},
		{TokenURL: "https://a/token"},
		{TokenURL: "https://a/token", ClientID: "x", AuthMethod: "private_key_jwt"},
		{TokenURL: "https://a/token", ClientID: "x", Resource: "up"},
	} {
		if _, err := NewTokenSource(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestTransport: the token goes to the upstream's origin only; a 401 of
// an old token gets the request sent again with a new one; a fresh token
// refused is not fetched again.
func TestTransport(t *testing.T) {
	as := startAS(t)
	as.AddClient("gw", "gw-secret")
	clock := &fakeClock{t: time.Now()}
	var mu sync.Mutex
	var seen []string
	reject := ""
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") == reject {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(up.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, "other:"+r.Header.Get("Authorization"))
	}))
	t.Cleanup(other.Close)
	s := newSource(t, asURL(as.URL), ClientCredentials{ClientID: "gw", ClientSecret: "gw-secret", Now: clock.now})
	client := &http.Client{Transport: &Transport{Source: s, Origin: up.URL, Base: http.DefaultTransport}}
	post := func(target string) int {
		resp, err := client.Post(target, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if post(up.URL) != 204 || post(other.URL) != 200 {
		t.Fatal("requests failed")
	}
	mu.Lock()
	first := seen[0]
	if !strings.HasPrefix(first, "Bearer ") || seen[1] != "other:" {
		t.Fatalf("headers seen %q", seen)
	}
	reject = first // the upstream stops accepting it
	mu.Unlock()
	if post(up.URL) != 401 || s.Fetches() != 1 {
		t.Fatalf("a brand-new token refused was fetched again: %d fetches", s.Fetches())
	}
	clock.advance(time.Minute)
	if post(up.URL) != 204 || s.Fetches() != 2 {
		t.Fatalf("an old token refused was not replaced and the request resent: %d fetches", s.Fetches())
	}

	broken := &http.Client{Transport: &Transport{Source: newSource(t, asURL("http://127.0.0.1:1"), ClientCredentials{ClientID: "gw"}),
		Origin: up.URL, Base: http.DefaultTransport}}
	_, err := broken.Post(up.URL, "application/json", strings.NewReader(`{}`))
	var ce *CredentialsError
	if !errors.As(err, &ce) || strings.Contains(ce.PublicCause(), "127.0.0.1") {
		t.Fatalf("err %v, want a CredentialsError", err)
	}
}
