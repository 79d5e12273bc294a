package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const testResource = "https://mcp.example.com/mcp"

// claimsFor are valid claims for the resource from iss at now.
func claimsFor(iss string, now time.Time) map[string]any {
	return map[string]any{
		"iss":   iss,
		"sub":   "alice",
		"aud":   []string{"other", testResource},
		"exp":   jwt.NewNumericDate(now.Add(5 * time.Minute)),
		"nbf":   jwt.NewNumericDate(now.Add(-time.Minute)),
		"iat":   jwt.NewNumericDate(now.Add(-time.Minute)),
		"scope": "mcp:read mcp:write",
	}
}

func with(c map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(c))
	for key, val := range c {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestValidate(t *testing.T) {
	rsaKey, ecKey, edKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1"), newEdKey(t, "ed-1")
	stranger := newRSAKey(t, "rsa-1") // same kid, different key: a forged signature
	as := newAuthServer(t, rsaKey, ecKey, edKey)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}, Leeway: 30 * time.Second, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.now()
	good := claimsFor(as.srv.URL, now)
	tests := []struct {
		name    string
		token   string
		wantErr string // substring of the TokenError's reason; "" for valid
	}{
		{"RS256 valid", rsaKey.sign(t, good), ""},
		{"ES256 valid", ecKey.sign(t, good), ""},
		{"EdDSA valid", edKey.sign(t, good), ""},
		{"no kid tries every key", testKey{alg: edKey.alg, priv: edKey.priv}.sign(t, good), ""},
		{"expired within leeway", rsaKey.sign(t, with(good, "exp", jwt.NewNumericDate(now.Add(-20*time.Second)))), ""},
		{"expired", rsaKey.sign(t, with(good, "exp", jwt.NewNumericDate(now.Add(-time.Minute)))), "expired"},
		{"no exp", rsaKey.sign(t, with(good, "exp", nil)), "no expiry"},
		{"not yet valid", rsaKey.sign(t, with(good, "nbf", jwt.NewNumericDate(now.Add(time.Minute)))), "not valid yet"},
		{"wrong audience", rsaKey.sign(t, with(good, "aud", "https://other.example.com/mcp")), "audience"},
		{"audience is a prefix only", rsaKey.sign(t, with(good, "aud", testResource+"/x")), "audience"},
		{"wrong issuer", rsaKey.sign(t, with(good, "iss", "https://evil.example.com")), "not accepted"},
		{"alg none", unsignedToken(t, good), "not a JWT signed with"},
		{"bad signature", stranger.sign(t, good), "signature does not verify"},
		{"HS256 with the public key as secret", hmacWithPublicKey(t, rsaKey, good), "not a JWT signed with"},
		{"garbage", "not.a.jwt", "not a JWT"},
		{"unknown kid", newRSAKey(t, "nope").sign(t, good), `key "nope"`},
		{"no sub", rsaKey.sign(t, with(good, "sub", nil)), "no subject"},
		{"empty sub", rsaKey.sign(t, with(good, "sub", "")), "no subject"},
		{"no sub, client_id only", rsaKey.sign(t, with(with(good, "sub", nil), "client_id", "agent")), "no subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Validate(context.Background(), tc.token)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if c.Subject != "alice" || c.Issuer != as.srv.URL || !slices.Equal(c.Scopes, []string{"mcp:read", "mcp:write"}) {
					t.Fatalf("claims = %+v", c)
				}
				if c.All["sub"] != "alice" {
					t.Fatalf("All = %v", c.All)
				}
				return
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want a TokenError", err, err)
			}
			if !strings.Contains(te.Reason, tc.wantErr) {
				t.Fatalf("reason = %q, want it to contain %q", te.Reason, tc.wantErr)
			}
		})
	}
}

func TestScopeClaims(t *testing.T) {
	k := newRSAKey(t, "k")
	as := newAuthServer(t, k)
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	base := with(claimsFor(as.srv.URL, time.Now()), "scope", nil)
	tests := []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"scope string", with(base, "scope", "a b  c"), []string{"a", "b", "c"}},
		{"scp array", with(base, "scp", []string{"a", "b"}), []string{"a", "b"}},
		{"scp string", with(base, "scp", "a b"), []string{"a", "b"}},
		{"none", base, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Validate(context.Background(), k.sign(t, tc.claims))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Scopes, tc.want) {
				t.Fatalf("scopes = %q, want %q", c.Scopes, tc.want)
			}
		})
	}
	if got := MissingScopes([]string{"a", "c"}, []string{"a", "b", "c", "d"}); !slices.Equal(got, []string{"b", "d"}) {
		t.Fatalf("MissingScopes = %q", got)
	}
	if got := MissingScopes([]string{"a"}, []string{"a"}); got != nil {
		t.Fatalf("MissingScopes = %q, want none", got)
	}
}

// TestKeyRotation: a token signed with a key the cached set lacks makes
// the validator fetch the set again — at most once per interval — and so
// picks up a rotated key without a restart.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := newRSAKey(t, "2026-01"), newECKey(t, "2026-02")
	as := newAuthServer(t, oldKey)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := claimsFor(as.srv.URL, clock.now())
	if _, err := v.Validate(ctx, oldKey.sign(t, good)); err != nil {
		t.Fatalf("old key: %v", err)
	}
	if n := as.jwksFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetches = %d, want 1", n)
	}
	// Rotation at the issuer; the next token names the new kid.
	as.setKeys(oldKey, newKey)
	clock.advance(DefaultRefetchInterval)
	if _, err := v.Validate(ctx, newKey.sign(t, good)); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if n := as.jwksFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetches = %d, want 2", n)
	}
	// Unknown kids within the interval do not reach the issuer.
	for range 5 {
		if _, err := v.Validate(ctx, newRSAKey(t, "random").sign(t, good)); err == nil {
			t.Fatal("a token with an unpublished kid was accepted")
		}
	}
	if n := as.jwksFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetches after unknown kids = %d, want still 2 (rate-limited)", n)
	}
	// Known keys keep working from the cache meanwhile.
	if _, err := v.Validate(ctx, oldKey.sign(t, good)); err != nil {
		t.Fatalf("old key from cache: %v", err)
	}
}

// TestIssuerDown: keys that cannot be fetched are the gateway's problem,
// not the client's: an UnavailableError with a retry hint, retried after
// the interval, and recovered from once the issuer is back.
func TestIssuerDown(t *testing.T) {
	k := newRSAKey(t, "k")
	as := newAuthServer(t, k)
	as.setDown(true)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	tok := k.sign(t, claimsFor(as.srv.URL, clock.now()))
	for i := range 2 {
		_, err = v.Validate(context.Background(), tok)
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("attempt %d: err = %v (%T), want UnavailableError", i, err, err)
		}
		if ue.RetryAfter <= 0 || ue.RetryAfter > DefaultRefetchInterval {
			t.Fatalf("RetryAfter = %v", ue.RetryAfter)
		}
	}
	as.setDown(false)
	clock.advance(DefaultRefetchInterval)
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
}

// TestJWKSServerGone: a JWKS URL that refuses connections is an
// UnavailableError too.
func TestJWKSServerGone(t *testing.T) {
	k := newRSAKey(t, "k")
	as := newAuthServer(t, k)
	url := as.srv.URL
	as.srv.Close()
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{url}, JWKSURL: url + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(context.Background(), k.sign(t, claimsFor(url, time.Now())))
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want UnavailableError", err, err)
	}
}

// TestDiscovery: the RFC 8414 document is preferred, the OIDC one is the
// fallback, a fixed jwks_url skips discovery, and a document naming
// another issuer is refused.
func TestDiscovery(t *testing.T) {
	k := newRSAKey(t, "k")
	t.Run("oidc fallback", func(t *testing.T) {
		as := newAuthServer(t, k)
		as.oidcOnly = true
		v, _ := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}})
		if _, err := v.Validate(context.Background(), k.sign(t, claimsFor(as.srv.URL, time.Now()))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("jwks_url", func(t *testing.T) {
		as := newAuthServer(t, k)
		v, _ := NewValidator(Config{Resource: testResource, Issuers: []string{"https://idp.example.com"}, JWKSURL: as.srv.URL + "/jwks"})
		if _, err := v.Validate(context.Background(), k.sign(t, claimsFor("https://idp.example.com", time.Now()))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		as := newAuthServer(t, k)
		iss := strings.Replace(as.srv.URL, "127.0.0.1", "localhost", 1) // same server, another issuer name
		v, _ := NewValidator(Config{Resource: testResource, Issuers: []string{iss}})
		_, err := v.Validate(context.Background(), k.sign(t, claimsFor(iss, time.Now())))
		var ue *UnavailableError
		if !errors.As(err, &ue) || !strings.Contains(ue.Err.Error(), "names issuer") {
			t.Fatalf("err = %v, want an UnavailableError about the issuer mismatch", err)
		}
	})
	if got := metadataURLs("https://as.example.com/tenant1/"); !slices.Equal(got, []string{
		"https://as.example.com/.well-known/oauth-authorization-server/tenant1",
		"https://as.example.com/tenant1/.well-known/openid-configuration",
	}) {
		t.Fatalf("metadataURLs = %q", got)
	}
}

func TestNewValidatorRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no resource", Config{Issuers: []string{"https://as"}}, "resource"},
		{"relative resource", Config{Resource: "/mcp", Issuers: []string{"https://as"}}, "resource"},
		{"fragment", Config{Resource: testResource + "#x", Issuers: []string{"https://as"}}, "fragment"},
		{"no issuer", Config{Resource: testResource}, "issuer"},
		{"bad issuer", Config{Resource: testResource, Issuers: []string{"as.example.com"}}, "issuer"},
		{"bad jwks_url", Config{Resource: testResource, Issuers: []string{"https://as"}, JWKSURL: "ftp://x"}, "jwks_url"},
		{"negative leeway", Config{Resource: testResource, Issuers: []string{"https://as"}, Leeway: -time.Second}, "leeway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewValidator(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one about %s", err, tc.want)
			}
		})
	}
	// Construction makes no network call: the client would fail any.
	_, err := NewValidator(Config{Resource: testResource, Issuers: []string{"https://as.invalid"},
		Client: &http.Client{Transport: failingTransport{t}}})
	if err != nil {
		t.Fatal(err)
	}
}

type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.t.Error("NewValidator made a network request")
	return nil, errors.New("no network")
}

// TestKeysMaxAge: keys older than KeysMaxAge are fetched again, so a key
// the issuer withdrew stops being trusted; while the issuer is down the
// stale keys stay in use.
func TestKeysMaxAge(t *testing.T) {
	first, second := newRSAKey(t, "first"), newEdKey(t, "second")
	as := newAuthServer(t, first, second)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	claims := func() map[string]any { return claimsFor(as.srv.URL, clock.now()) }
	if _, err := v.Validate(ctx, first.sign(t, claims())); err != nil {
		t.Fatal(err)
	}
	// Stale, and the issuer is down: the cached keys still serve.
	as.setDown(true)
	clock.advance(DefaultKeysMaxAge)
	if _, err := v.Validate(ctx, first.sign(t, claims())); err != nil {
		t.Fatalf("stale key while the issuer is down: %v", err)
	}
	if n := as.jwksFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetches = %d, want 2 (the first and the failed refresh)", n)
	}
	// Back up, first withdrawn: after the retry interval the refresh drops it.
	as.setDown(false)
	as.setKeys(second)
	clock.advance(DefaultRefetchInterval)
	_, err = v.Validate(ctx, first.sign(t, claims()))
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("withdrawn key: err = %v, want a TokenError", err)
	}
	if _, err := v.Validate(ctx, second.sign(t, claims())); err != nil {
		t.Fatalf("remaining key: %v", err)
	}
	if n := as.jwksFetches.Load(); n != 3 {
		t.Fatalf("JWKS fetches = %d, want 3", n)
	}
}

// TestConcurrentFirstUse: requests that arrive together before any key is
// cached share one fetch.
func TestConcurrentFirstUse(t *testing.T) {
	k := newRSAKey(t, "k")
	as := newAuthServer(t, k)
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	tok := k.sign(t, claimsFor(as.srv.URL, time.Now()))
	errs := make(chan error, 20)
	for range cap(errs) {
		go func() {
			_, err := v.Validate(context.Background(), tok)
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := as.jwksFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetches = %d, want 1", n)
	}
}

// TestJWKSWithUnreadableKeys: an issuer whose set also holds keys the
// gateway cannot read (an X448 key, an unknown kty, a broken RSA key)
// still has its readable keys used, for the first kid and for a rotated
// one; the skipped keys are logged once per fetch, not per request.
func TestJWKSWithUnreadableKeys(t *testing.T) {
	as := startAS(t)
	x448 := base64.RawURLEncoding.EncodeToString(make([]byte, 56))
	as.PublishRawJWK(`{"kty":"OKP","crv":"X448","kid":"x448","x":"` + x448 + `"}`)
	as.PublishRawJWK(`{"kty":"PQC","kid":"post-quantum"}`)
	as.PublishRawJWK(`{"kty":"RSA","kid":"broken-rsa","n":"not base64!","e":"AQAB"}`)
	clock := &fakeClock{t: time.Now()}
	core, logs := observer.New(zap.WarnLevel)
	v, err := NewValidator(Config{Resource: testResource, Issuers: []string{as.URL}, Now: clock.now, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := as.Token("alice", testResource, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := v.Validate(ctx, tok); err != nil {
			t.Fatalf("a token signed with the readable key: %v", err)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d warnings after one fetch, want 1: %v", n, logs.All())
	}
	if skipped, _ := logs.All()[0].ContextMap()["skipped"].([]skippedKey); len(skipped) != 3 {
		t.Fatalf("skipped = %+v, want the 3 unreadable keys", logs.All()[0].ContextMap()["skipped"])
	}
	// A new kid: fetched again, found, and the skip logged for that fetch.
	if err := as.RotateKey(); err != nil {
		t.Fatal(err)
	}
	clock.advance(DefaultRefetchInterval)
	rotated, err := as.Token("alice", testResource, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, rotated); err != nil {
		t.Fatalf("a token signed with the rotated key: %v", err)
	}
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d warnings after two fetches, want 2", n)
	}
	// A token naming the unreadable key is refused as a token, not as
	// an outage.
	_, err = v.Validate(ctx, newRSAKey(t, "x448").sign(t, claimsFor(as.URL, clock.now())))
	var te *TokenError
	if !errors.As(err, &te) || !strings.Contains(te.Reason, "cannot use") {
		t.Fatalf("err = %v, want a TokenError saying the key cannot be used", err)
	}
}
