package caddytest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// TestAdaptOrdersMCPAuthFirst: written anywhere in the site, mcp_auth
// runs before mcp_proxy and reverse_proxy (its order is after
// forward_auth).
func TestAdaptOrdersMCPAuthFirst(t *testing.T) {
	const auth = "\tmcp_auth {\n\t\tresource https://mcp.example.com/mcp\n\t\tissuer https://auth.example.com\n\t}\n"
	const proxy = "\tmcp_proxy /mcp {\n\t\tstdio mcp-server\n\t}\n"
	const rp = "\treverse_proxy localhost:9000\n"
	for _, body := range []string{
		":8080 {\n" + rp + proxy + auth + "}\n",
		":8080 {\n" + auth + proxy + rp + "}\n",
	} {
		out, warnings, err := adaptCaddyfile("Caddyfile", body)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("adapting:\n%s\n%v %v", body, err, warnings)
		}
		handlers := routeHandlers(t, out)
		if strings.Join(handlers, ",") != "mcp_auth,mcp_proxy,reverse_proxy" {
			t.Errorf("route handlers in order = %v, want [mcp_auth mcp_proxy reverse_proxy]\ninput:\n%s\noutput: %s", handlers, body, out)
		}
	}
}

// TestAuthValidateMakesNoCall: validating (and loading) a config with
// mcp_auth asks the authorization server nothing; the first request with
// a token does (the control that the counter counts).
func TestAuthValidateMakesNoCall(t *testing.T) {
	as := startAuthServer(t)
	site := authSite(t, as.URL)
	validateAndLoadOffline(t, site, as.Requests)
	// The control: a token's check fetches the metadata and the keys.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := as.Sign(map[string]any{"iss": as.URL, "sub": "alice", "aud": authResource,
		"exp": time.Now().Add(time.Hour).Unix(), "scope": authScope})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := authPost(ctx, t, authResource, "Bearer "+tok, "", authInitialize); resp.StatusCode != 200 {
		t.Fatalf("initialize with a token: %d %s", resp.StatusCode, body)
	}
	if n := as.Requests(); n < 2 {
		t.Fatalf("the first token check made %d requests to the authorization server, want metadata and JWKS", n)
	}
}

// TestAuthIssuerDownAtStart: an authorization server that is down does
// not keep Caddy from loading the config; requests get 503 with
// Retry-After (the token may be fine: no challenge), saying nothing of
// where the keys live.
func TestAuthIssuerDownAtStart(t *testing.T) {
	as := startAuthServer(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	startProxy(t, authSite(t, deadURL), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := as.Sign(map[string]any{"iss": deadURL, "sub": "alice", "aud": authResource,
		"exp": time.Now().Add(time.Hour).Unix(), "scope": authScope})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is answered from the failure's memory, without a new fetch
		resp, body := authPost(ctx, t, authResource, "Bearer "+tok, "", authInitialize)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			resp.Header.Get("WWW-Authenticate") != "" {
			t.Fatalf("got %d, Retry-After %q, WWW-Authenticate %q: %s", resp.StatusCode,
				resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate"), body)
		}
		if strings.Contains(body, deadURL) || strings.Contains(body, strings.TrimPrefix(deadURL, "http://")) ||
			!strings.Contains(body, "authorization server is unreachable") {
			t.Fatalf("503 body: %s", body)
		}
	}
}

// TestAuthKeyRotation: after the authorization server rotates its key, a
// token signed with the new kid is accepted without a reload, once the
// refetch interval since the last fetch has passed (unknown kids cannot
// make the gateway fetch keys more often than that).
func TestAuthKeyRotation(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token := func() string {
		tok, err := as.Token("alice", authResource, time.Hour, authScope)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	old := token()
	if resp, body := authPost(ctx, t, authResource, old, "", authInitialize); resp.StatusCode != 200 {
		t.Fatalf("initialize with the first key: %d %s", resp.StatusCode, body)
	}
	if err := as.RotateKey(); err != nil {
		t.Fatal(err)
	}
	rotated := token()
	start := time.Now()
	var body string
	if !poll(20*time.Second, func() bool {
		var resp *http.Response
		resp, body = authPost(ctx, t, authResource, rotated, "", authInitialize)
		if resp.StatusCode == 200 {
			return true
		}
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "does not publish") {
			t.Fatalf("the rotated key's token while the keys are cached: %d %s", resp.StatusCode, body)
		}
		return false
	}) {
		t.Fatalf("the rotated key's token is still refused 20s after the rotation: %s", body)
	}
	t.Logf("the rotated key was accepted %v after the rotation", time.Since(start).Round(100*time.Millisecond))
	if resp, body := authPost(ctx, t, authResource, old, "", authInitialize); resp.StatusCode != 200 {
		t.Fatalf("the first key's token after the rotation: %d %s", resp.StatusCode, body)
	}
}

// validateAndLoadOffline runs caddy validate on site and loads it, and
// fails if either made a request that requests counts (an authorization
// server's): both must work with the network down.
func validateAndLoadOffline(t *testing.T, site string, requests func() int) {
	t.Helper()
	out, _, err := adaptCaddyfile("Caddyfile", caddyGlobals+site)
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("caddy.Validate: %v", err)
	}
	startProxy(t, site, goroutinesChecked)
	if n := requests(); n != 0 {
		t.Fatalf("validating and loading the config made %d requests to the authorization server", n)
	}
}
