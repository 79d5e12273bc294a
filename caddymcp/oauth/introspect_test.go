package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth/authtest"
)

// introspectingValidator is a Validator for as's tokens that introspects
// opaque ones as client "gateway", on clock.
func introspectingValidator(t *testing.T, as *authtest.Server, clock *fakeClock, maxEntries int) *Validator {
	t.Helper()
	as.AddClient("gateway", "gateway-secret")
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.URL}, Now: clock.now,
		Introspection: &Introspection{URL: as.URL + "/introspect", ClientID: "gateway", ClientSecret: "gateway-secret", MaxEntries: maxEntries}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func startAS(t *testing.T) *authtest.Server {
	t.Helper()
	as, err := authtest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Close)
	return as
}

// TestIntrospection: opaque tokens are checked at the RFC 7662 endpoint
// (active, audience, issuer, expiry), JWTs still locally.
func TestIntrospection(t *testing.T) {
	as := startAS(t)
	clock := &fakeClock{t: time.Now()}
	v := introspectingValidator(t, as, clock, 0)
	jwtTok, err := as.Token("carol", testResource, time.Hour, "mcp:tools")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		token       string
		wantSubject string
		wantErr     string
	}{
		{"active", as.OpaqueToken("alice", testResource, time.Hour, "mcp:tools", "x"), "alice", ""},
		{"unknown", "no-such-token", "", "not active"},
		{"other audience", as.OpaqueToken("bob", "https://other.example.com/mcp", time.Hour), "", "audience does not include"},
		{"a JWT is not introspected", jwtTok, "carol", ""},
		{"no sub: the client", as.OpaqueTokenWith("", "agent", testResource, time.Hour), "agent", ""},
		{"neither sub nor client_id", as.OpaqueTokenWith("", "", testResource, time.Hour), "", "no subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := as.Introspections()
			c, err := v.Validate(context.Background(), tc.token)
			if tc.wantErr != "" {
				var te *TokenError
				if !errors.As(err, &te) || !strings.Contains(te.Reason, tc.wantErr) {
					t.Fatalf("err %v, want a TokenError saying %q", err, tc.wantErr)
				}
			} else if err != nil || c.Subject != tc.wantSubject || c.Issuer != as.URL {
				t.Fatalf("claims %+v err %v, want subject %s", c, err, tc.wantSubject)
			}
			wantAsked := 1
			if strings.Count(tc.token, ".") == 2 {
				wantAsked = 0
			}
			if got := as.Introspections() - before; got != wantAsked {
				t.Fatalf("%d introspections, want %d", got, wantAsked)
			}
		})
	}
	t.Run("scopes", func(t *testing.T) {
		c, err := v.Validate(context.Background(), as.OpaqueToken("alice", testResource, time.Hour, "mcp:tools", "x"))
		if err != nil || strings.Join(c.Scopes, " ") != "mcp:tools x" {
			t.Fatalf("%+v %v", c, err)
		}
	})
}

// TestIntrospectionCache: an answer is reused until the token expires (a
// revoked token keeps working until then, at most an hour), a refusal for
// a short while; the cache is bounded.
func TestIntrospectionCache(t *testing.T) {
	as := startAS(t)
	clock := &fakeClock{t: time.Now()}
	v := introspectingValidator(t, as, clock, 3)
	tok := as.OpaqueToken("alice", testResource, 30*time.Minute)
	for range 3 {
		if _, err := v.Validate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := as.Introspections(); n != 1 {
		t.Fatalf("%d introspections for three checks, want 1", n)
	}
	as.Revoke(tok)
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatalf("cached answer not used: %v", err)
	}
	clock.advance(31 * time.Minute) // past the token's expiry: asked again
	if _, err := v.Validate(context.Background(), tok); err == nil || as.Introspections() != 2 {
		t.Fatalf("after expiry: err %v, %d introspections (want a refusal from a second one)", err, as.Introspections())
	}
	if _, err := v.Validate(context.Background(), tok); err == nil || as.Introspections() != 2 {
		t.Fatalf("the refusal was not cached: %d introspections", as.Introspections())
	}
	for i := range 5 {
		if _, err := v.Validate(context.Background(), as.OpaqueToken(fmt.Sprint("u", i), testResource, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.introspector.cached(); n > 3 {
		t.Fatalf("cache holds %d answers, bound is 3", n)
	}
}

// TestIntrospectionUnavailable: an endpoint that cannot be reached, or
// refuses the gateway's credentials, is not the client's fault.
func TestIntrospectionUnavailable(t *testing.T) {
	as := startAS(t)
	for _, tc := range []struct {
		name, url, secret string
	}{
		{"down", "http://127.0.0.1:1/introspect", "gateway-secret"},
		{"bad credentials", as.URL + "/introspect", "wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.AddClient("gateway", "gateway-secret")
			v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.URL},
				Introspection: &Introspection{URL: tc.url, ClientID: "gateway", ClientSecret: tc.secret}})
			if err != nil {
				t.Fatal(err)
			}
			var ue *UnavailableError
			if _, err := v.Validate(context.Background(), "opaque"); !errors.As(err, &ue) {
				t.Fatalf("err %v, want an UnavailableError", err)
			}
		})
	}
}

func TestNewValidatorRefusesBadIntrospection(t *testing.T) {
	for _, in := range []*Introspection{{URL: "not a url", ClientID: "x"}, {URL: "https://a/i"}} {
		if _, err := NewValidator(Config{Resource: testResource, Issuers: []string{"https://a"}, Introspection: in}); err == nil {
			t.Errorf("%+v accepted", in)
		}
	}
}

// TestIntrospectionShared: callers that arrive together with a new token
// share one introspection.
func TestIntrospectionShared(t *testing.T) {
	as := startAS(t)
	v := introspectingValidator(t, as, &fakeClock{t: time.Now()}, 0)
	tok := as.OpaqueToken("alice", testResource, time.Hour)
	const callers = 20
	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := v.Validate(context.Background(), tok)
			errs <- err
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Late arrivals may find the answer cached; none asks again.
	if n := as.Introspections(); n != 1 {
		t.Fatalf("%d introspections for %d concurrent callers, want 1", n, callers)
	}
}
