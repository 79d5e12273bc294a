package caddytest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tsAuthResult is what interop_ts/auth_client.mjs prints.
type tsAuthResult struct {
	Exchanges []struct {
		Method          string `json:"method"`
		URL             string `json:"url"`
		Status          int    `json:"status"`
		WWWAuthenticate string `json:"wwwAuthenticate"`
	} `json:"exchanges"`
	Tools      []string `json:"tools"`
	SimpleText string   `json:"simpleText"`
}

// TestAuthTSClientCredentials: the TypeScript SDK client with its
// ClientCredentialsProvider and no token at first gets the 401, follows
// the challenge to the protected resource metadata and the authorization
// server's, gets a token by client credentials and completes a session.
func TestAuthTSClientCredentials(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSite(t, as.URL), goroutinesChecked)
	script, err := filepath.Abs(filepath.Join("interop_ts", "auth_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	run := runNode(ctx, node20(t), script, authResource, "alice", "alice-secret", as.URL)
	if run.Err != nil {
		t.Fatalf("TypeScript client: %v\nstdout:\n%s\nstderr:\n%s", run.Err, run.Stdout, run.Stderr)
	}
	var r tsAuthResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &r); err != nil {
		t.Fatalf("TypeScript client output is not one JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, run.Stdout, run.Stderr)
	}
	if !slices.Contains(r.Tools, toolSimpleText) || r.SimpleText == "" {
		t.Fatalf("session: tools %q, text %q", r.Tools, r.SimpleText)
	}
	if len(r.Exchanges) == 0 || r.Exchanges[0].URL != authResource || r.Exchanges[0].Status != 401 ||
		r.Exchanges[0].WWWAuthenticate != authChallenge {
		t.Fatalf("first exchange %+v, want a 401 from %s with %s", r.Exchanges[:min(1, len(r.Exchanges))], authResource, authChallenge)
	}
	var sawMetadata, sawToken bool
	for _, e := range r.Exchanges {
		sawMetadata = sawMetadata || (e.URL == authMetadataURL && e.Status == 200)
		sawToken = sawToken || (e.URL == as.URL+"/token" && e.Status == 200)
	}
	if !sawMetadata || !sawToken || as.TokensIssued() != 1 {
		t.Fatalf("metadata fetched %v, token fetched %v, tokens issued %d; exchanges:\n%+v",
			sawMetadata, sawToken, as.TokensIssued(), r.Exchanges)
	}
	t.Logf("TypeScript client: %d HTTP exchanges in %v: %+v", len(r.Exchanges), run.Duration, r.Exchanges)
}
