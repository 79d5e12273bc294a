package caddytest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// tsScopedResult is auth_client.mjs's output with a scoped tool.
type tsScopedResult struct {
	tsAuthResult
	ScopedResult string `json:"scopedResult"`
	ScopedError  string `json:"scopedError"`
}

// runTSScoped runs the TypeScript client against a site where
// toolProgress needs progressScope, calling it last; scope is what its
// ClientCredentialsProvider asks for ("" for its default).
func runTSScoped(t *testing.T, issuer, scope string) tsScopedResult {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("interop_ts", "auth_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	args := []string{authResource, "alice", "alice-secret", issuer, toolProgress}
	if scope != "" {
		args = append(args, scope)
	}
	run := runNode(ctx, node20(t), script, args...)
	if run.Err != nil {
		t.Fatalf("TypeScript client: %v\nstdout:\n%s\nstderr:\n%s", run.Err, run.Stdout, run.Stderr)
	}
	var r tsScopedResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &r); err != nil {
		t.Fatalf("TypeScript client output: %v\n%s\n%s", err, run.Stdout, run.Stderr)
	}
	return r
}

// TestAuthTSScopedTool: the TypeScript SDK client (ClientCredentialsProvider)
// and a tool with a scope of its own. It gets the 403 whose challenge names
// every scope the call needs, and re-authorizes once — but SDK 1.32.2's
// non-interactive flow requests the provider's configured scope, not the
// challenge's (fetchToken reads clientMetadata.scope), so the same token
// comes back and the SDK stops with "403 after trying upscoping". Given
// that scope, the same client calls the tool.
func TestAuthTSScopedTool(t *testing.T) {
	as := startAuthServer(t)
	startProxy(t, authSiteWith(t, as.URL, "scope "+progressScope+" {\n\t\t\ttool "+toolProgress+"\n\t\t}", ""), goroutinesChecked)
	want403 := `Bearer resource_metadata="` + authMetadataURL + `", scope="` + scopedNeedBoth + `", error="insufficient_scope"`

	r := runTSScoped(t, as.URL, "")
	var challenges []string
	for _, e := range r.Exchanges {
		if e.Status == 403 {
			challenges = append(challenges, e.WWWAuthenticate)
		}
	}
	if len(challenges) != 2 || challenges[0] != want403 || challenges[1] != want403 ||
		!strings.Contains(r.ScopedError, "after trying upscoping") || as.TokensIssued() != 2 {
		t.Fatalf("default scope: 403 challenges %q (want 2 x %s), error %q, tokens %d (want 2: the re-authorization)",
			challenges, want403, r.ScopedError, as.TokensIssued())
	}

	r = runTSScoped(t, as.URL, scopedNeedBoth)
	if r.ScopedError != "" || r.ScopedResult == "" || r.ScopedResult == "[]" {
		t.Fatalf("with scope %q: result %q, error %q", scopedNeedBoth, r.ScopedResult, r.ScopedError)
	}
	for _, e := range r.Exchanges {
		if e.Status == 403 {
			t.Fatalf("with the scope the client still got a 403: %+v", e)
		}
	}
}
