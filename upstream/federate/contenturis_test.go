package federate

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// linking gives p (a server named name that lists file:///readme too, see
// sharedReadme) a tool and a prompt whose answers name that URI twice: a
// resource link and an embedded resource; a template file:///docs/{page}
// that the other server shares; and completions that tell whose template
// was completed.
func linking(p *peer, name string) {
	content := func() []mcp.Content {
		return []mcp.Content{
			&mcp.ResourceLink{URI: "file:///readme", Name: "readme"},
			&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///readme", Text: name}},
			&mcp.ResourceLink{URI: "ui://" + name + "/app", Name: "app"},
		}
	}
	mcp.AddTool(p.srv, &mcp.Tool{Name: "link"}, func(context.Context, *mcp.CallToolRequest, textArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: content()}, nil, nil
	})
	p.srv.AddPrompt(&mcp.Prompt{Name: "linked"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		var msgs []*mcp.PromptMessage
		for _, c := range content() {
			msgs = append(msgs, &mcp.PromptMessage{Role: "user", Content: c})
		}
		return &mcp.GetPromptResult{Messages: msgs}, nil
	})
	p.srv.AddResourceTemplate(&mcp.ResourceTemplate{Name: "docs", URITemplate: "file:///docs/{page}"},
		func(_ context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, Text: name + " has " + r.Params.URI}}}, nil
		})
}

// completing makes a peer's completions say the server and the reference
// it got.
func completing(name string) func(*mcp.ServerOptions, *mcp.StreamableHTTPOptions) {
	return func(so *mcp.ServerOptions, _ *mcp.StreamableHTTPOptions) {
		so.CompletionHandler = func(_ context.Context, r *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{name + " " + r.Params.Ref.URI}}}, nil
		}
	}
}

// linkURIs is the URIs of the resource links and embedded resources of a
// tool result (content) or a prompt's messages.
func linkURIs(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	type block struct {
		URI      string `json:"uri"`
		Resource *struct {
			URI string `json:"uri"`
		} `json:"resource"`
	}
	var r struct {
		Content  []block
		Messages []struct{ Content block }
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Messages {
		r.Content = append(r.Content, m.Content)
	}
	var out []string
	for _, b := range r.Content {
		if b.Resource != nil {
			b.URI = b.Resource.URI
		}
		out = append(out, b.URI)
	}
	return out
}

// readURI is the first contents' URI of a resources/read answer.
func readURI(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var r struct{ Contents []struct{ URI string } }
	if json.Unmarshal(raw, &r) != nil || len(r.Contents) == 0 {
		t.Fatalf("a read's result %s", raw)
	}
	return r.Contents[0].URI
}

// TestSharedURIsInAnswers: with file:///readme and the template
// file:///docs/{page} on both servers, what the second server writes
// reaches the client in the form the client reads back: a read's
// contents under the URI it read by, its tools' and prompts' resource
// links and embedded resources under mcp+beta:; its template is listed as
// mcp+beta:file:///docs/{page}, read and completed by that name.
func TestSharedURIsInAnswers(t *testing.T) {
	a, b := newPeer(t, "alpha", 0, completing("alpha")), newPeer(t, "beta", 0, completing("beta"))
	for _, p := range []struct {
		peer *peer
		name string
	}{{a, "alpha"}, {b, "beta"}} {
		sharedReadme(p.peer, p.name)
		linking(p.peer, p.name)
	}
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, []upstream.Upstream{a.up, b.up})
	c.initialize()
	c.names("resources/list", "resources", "uri")
	templates := c.names("resources/templates/list", "resourceTemplates", "uriTemplate")
	if !slices.Contains(templates, "file:///docs/{page}") || !slices.Contains(templates, "mcp+beta:file:///docs/{page}") {
		t.Errorf("templates %v: want alpha's file:///docs/{page} and beta's under mcp+beta:", templates)
	}
	for _, uri := range []string{"file:///readme", "mcp+beta:file:///readme", "mcp+alpha:file:///readme", "mcp+beta:file:///docs/x"} {
		if got := readURI(t, c.call("resources/read", map[string]any{"uri": uri}).Result); got != uri {
			t.Errorf("resources/read %s: contents under %s", uri, got)
		}
	}
	if got := text(t, c.call("resources/read", map[string]any{"uri": "mcp+beta:file:///docs/x"})); got != "beta has file:///docs/x" {
		t.Errorf("read of beta's template: %q", got)
	}
	want := map[string][]string{
		"alpha": {"file:///readme", "file:///readme", "ui://alpha/app"},
		"beta":  {"mcp+beta:file:///readme", "mcp+beta:file:///readme", "ui://beta/app"},
	}
	for server, uris := range want {
		if got := linkURIs(t, c.call("tools/call", map[string]any{"name": server + "_link", "arguments": map[string]any{"text": ""}}).Result); !slices.Equal(got, uris) {
			t.Errorf("%s_link: %v, want %v", server, got, uris)
		}
		if got := linkURIs(t, c.call("prompts/get", map[string]any{"name": server + "_linked"}).Result); !slices.Equal(got, uris) {
			t.Errorf("%s_linked: %v, want %v", server, got, uris)
		}
	}
	for _, r := range []struct {
		resolve               func(method, target string) (string, string)
		template, server, own string
	}{
		{c.f.Resolve, "mcp+beta:file:///docs/{page}", "beta", "file:///docs/{page}"},
		{c.f.Resolve, "file:///docs/{page}", "alpha", "file:///docs/{page}"},
		{c.conn.(upstream.FederatedConn).Resolve, "mcp+beta:file:///docs/{page}", "beta", "file:///docs/{page}"},
		{c.conn.(upstream.FederatedConn).Resolve, "beta://items/{id}", "beta", "beta://items/{id}"},
	} {
		if server, own := r.resolve("completion/complete", r.template); server != r.server || own != r.own {
			t.Errorf("Resolve(completion/complete, %s) = %q %q, want %q %q", r.template, server, own, r.server, r.own)
		}
	}
	for ref, wantValue := range map[string]string{
		"file:///docs/{page}":          "alpha file:///docs/{page}",
		"mcp+beta:file:///docs/{page}": "beta file:///docs/{page}",
	} {
		var res struct{ Completion struct{ Values []string } }
		c.result("completion/complete", map[string]any{"ref": map[string]string{"type": "ref/resource", "uri": ref},
			"argument": map[string]string{"name": "page", "value": ""}}, &res)
		if !slices.Equal(res.Completion.Values, []string{wantValue}) {
			t.Errorf("completion of %s: %v, want %q", ref, res.Completion.Values, wantValue)
		}
	}
}

// TestStatelessSharedURIsInAnswers: a 2026-07-28 client gets the same
// forms, by its latest resources list.
func TestStatelessSharedURIsInAnswers(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(30000, "public")), newPeer(t, "b", 0, modern(30000, "public"))
	sharedReadme(a, "a")
	sharedReadme(b, "b")
	linking(a, "a")
	linking(b, "b")
	f := federation2026(t, PrefixAlways, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
	names2026(t, f, "resources/list", "resources", "uri", 30000, "public")
	for _, uri := range []string{"file:///readme", "mcp+b:file:///readme"} {
		ans, err := call2026(t, f, "resources/read", map[string]any{"uri": uri}, uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := readURI(t, ans.Result); got != uri {
			t.Errorf("resources/read %s: contents under %s", uri, got)
		}
	}
	ans, err := call2026(t, f, "tools/call", map[string]any{"name": "b_link", "arguments": map[string]any{"text": ""}}, "b_link")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := linkURIs(t, ans.Result), []string{"mcp+b:file:///readme", "mcp+b:file:///readme", "ui://b/app"}; !slices.Equal(got, want) {
		t.Errorf("b_link: %v, want %v", got, want)
	}
}

// TestCompletionRefReadAsRulesReadIt: a completion/complete routes by the
// ref the rules judge (pipeline.Message.ServerQuery); a ref member spelled
// in another case names nothing there, so it names no server here either.
func TestCompletionRefReadAsRulesReadIt(t *testing.T) {
	a, b := newPeer(t, "alpha", 0, completing("alpha")), newPeer(t, "beta", 0, completing("beta"))
	sharedReadme(a, "alpha")
	sharedReadme(b, "beta")
	c := open(t, PrefixAlways, []string{"alpha", "beta"}, []upstream.Upstream{a.up, b.up})
	c.initialize()
	c.names("resources/templates/list", "resourceTemplates", "uriTemplate")
	for _, ref := range []map[string]string{
		{"type": "ref/resource", "URI": "mcp+beta:file:///docs/{page}"},
		{"Type": "ref/resource", "uri": "mcp+beta:file:///docs/{page}"},
	} {
		ans := c.call("completion/complete", map[string]any{"ref": ref, "argument": map[string]string{"name": "page", "value": ""}})
		var e pipeline.ErrorObject
		if ans.Error == nil || json.Unmarshal(ans.Error, &e) != nil || e.Code != CodeResourceNotFound {
			t.Errorf("ref %v: answer %s %s, want the gateway's Resource not found (no server)", ref, ans.Result, ans.Error)
		}
	}
}
