package intercept_test

import (
	"context"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// servers resolves as a federated endpoint of github and docs with prefix
// always would, plus one name listed unprefixed (as prefix conditional
// makes it): the server is before the first "_".
func servers(method, target string) (string, string) {
	if method == "completion/complete" && target == "file:///docs/{page}" {
		return "docs", target
	}
	if method != "tools/call" && method != "prompts/get" && method != "resources/read" {
		return "", ""
	}
	if target == "create_issue" {
		return "github", "create_issue"
	}
	if target == "file:///docs/a" {
		return "docs", target
	}
	server, own, ok := strings.Cut(target, "_")
	if !ok || server != "github" && server != "docs" {
		return "", ""
	}
	return server, own
}

const (
	callGithubCreate  = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"github_create_issue"}}`
	callDocsCreate    = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"docs_create_issue"}}`
	callUnprefixed    = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"}}`
	callUnknown       = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nobody_knows"}}`
	getDocsPrompt     = `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"docs_greet"}}`
	readDocs          = `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/a"}}`
	resultOfCreate    = `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`
	completeDocsGreet = `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"docs_greet"},"argument":{"name":"a","value":""}}}`
	completeDocsPage  = `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///docs/{page}"},"argument":{"name":"page","value":""}}}`
	completeUnknown   = `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"nobody_knows"},"argument":{"name":"a","value":""}}}`
)

// TestServerMatcher: a rule's servers match the server a message concerns,
// and make its tool, prompt and resource globs match that server's own
// names; without servers they match the client-visible names.
func TestServerMatcher(t *testing.T) {
	fed := &pipeline.Exchange{Direction: pipeline.ToServer, Servers: servers}
	fedAnswer := &pipeline.Exchange{Direction: pipeline.ToClient, Servers: servers, RequestMethod: "tools/call", RequestTarget: "github_create_issue"}
	single := &pipeline.Exchange{Direction: pipeline.ToServer}
	github := []string{"github"}
	tests := []struct {
		name string
		rule intercept.Rule
		ex   *pipeline.Exchange
		msg  string
		want bool
	}{
		{"server alone", intercept.Rule{Servers: github}, fed, callGithubCreate, true},
		{"other server", intercept.Rule{Servers: github}, fed, callDocsCreate, false},
		{"server glob", intercept.Rule{Servers: []string{"git*"}}, fed, callGithubCreate, true},
		{"servers OR", intercept.Rule{Servers: []string{"docs", "github"}}, fed, callDocsCreate, true},
		{"server + own tool name", intercept.Rule{Servers: github, Tools: []string{"create_issue"}}, fed, callGithubCreate, true},
		{"server + own name, other server", intercept.Rule{Servers: github, Tools: []string{"create_issue"}}, fed, callDocsCreate, false},
		{"server + client-visible name is not its own", intercept.Rule{Servers: github, Tools: []string{"github_create_issue"}}, fed, callGithubCreate, false},
		{"server + own name listed unprefixed", intercept.Rule{Servers: github, Tools: []string{"create_*"}}, fed, callUnprefixed, true},
		{"no server: client-visible name", intercept.Rule{Tools: []string{"github_create_issue"}}, fed, callGithubCreate, true},
		{"no server: own name is not the visible one", intercept.Rule{Tools: []string{"create_issue"}}, fed, callGithubCreate, false},
		{"server + tool needs tools/call", intercept.Rule{Servers: []string{"docs"}, Tools: []string{"greet"}}, fed, getDocsPrompt, false},
		{"server + own prompt name", intercept.Rule{Servers: []string{"docs"}, Prompts: []string{"greet"}}, fed, getDocsPrompt, true},
		{"server + resource URI", intercept.Rule{Servers: []string{"docs"}, Resources: []string{"file:///docs/*"}}, fed, readDocs, true},
		{"server of a response is its request's", intercept.Rule{Direction: "to_client", Servers: github, Tools: []string{"create_issue"}}, fedAnswer, resultOfCreate, true},
		{"server + method that names nothing", intercept.Rule{Servers: github}, fed, listTools, false},
		{"unknown name applies (fail closed)", intercept.Rule{Servers: github, Tools: []string{"create_issue"}}, fed, callUnknown, true},
		{"unknown name, but not a tool rule's method", intercept.Rule{Servers: github, Prompts: []string{"x"}}, fed, callUnknown, false},
		{"unknown name, a field says no", intercept.Rule{Servers: github, Fields: []intercept.Field{{Pointer: "/params/name", Regexp: "^zzz$"}}}, fed, callUnknown, false},
		{"expression server", intercept.Rule{Expression: `server == "github" && tool == "github_create_issue"`}, fed, callGithubCreate, true},
		{"expression server, other", intercept.Rule{Expression: `server == "github"`}, fed, callDocsCreate, false},
		{"expression server unknown is empty", intercept.Rule{Expression: `server == ""`}, fed, callUnknown, true},
		{"completion: server + own prompt name", intercept.Rule{Servers: []string{"docs"}, Prompts: []string{"greet"}}, fed, completeDocsGreet, true},
		{"completion: prompt of another server", intercept.Rule{Servers: github, Prompts: []string{"greet"}}, fed, completeDocsGreet, false},
		{"completion: client-visible prompt name", intercept.Rule{Prompts: []string{"docs_greet"}}, fed, completeDocsGreet, true},
		{"completion: method and server", intercept.Rule{Methods: []string{"completion/complete"}, Servers: []string{"docs"}}, fed, completeDocsGreet, true},
		{"completion: a prompt is no tool", intercept.Rule{Servers: []string{"docs"}, Tools: []string{"greet"}}, fed, completeDocsGreet, false},
		{"completion: server + template", intercept.Rule{Servers: []string{"docs"}, Resources: []string{"file:///docs/*"}}, fed, completeDocsPage, true},
		{"completion: a template is no prompt", intercept.Rule{Servers: []string{"docs"}, Prompts: []string{"*"}}, fed, completeDocsPage, false},
		{"completion: unknown prompt applies (fail closed)", intercept.Rule{Servers: github, Prompts: []string{"greet"}}, fed, completeUnknown, true},
		{"completion: expression", intercept.Rule{Expression: `server == "docs" && prompt == "docs_greet" && method == "completion/complete"`}, fed, completeDocsGreet, true},
		{"one server: no message has a server", intercept.Rule{Servers: []string{"*"}}, single, callGithubCreate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Actions = []intercept.Action{blockIt}
			e, err := intercept.New([]intercept.Rule{tt.rule}, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := e.Handle(context.Background(), tt.ex, parse(t, tt.msg))
			blocked := v.Action != pipeline.Continue || v.Message != nil
			if blocked != tt.want {
				t.Errorf("matched = %v, want %v (verdict %+v)", blocked, tt.want, v)
			}
		})
	}
}

// TestServerUnresolvedMessage: a block that applies because the server is
// unknown says so rather than the rule's own message.
func TestServerUnresolvedMessage(t *testing.T) {
	e, err := intercept.New([]intercept.Rule{{Servers: []string{"github"}, Actions: []intercept.Action{act(intercept.ActionBlock, func(a *intercept.Action) { a.Message = "no github" })}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ex := &pipeline.Exchange{Direction: pipeline.ToServer, Servers: servers}
	_, msg, _ := errorOf(t, e.Handle(context.Background(), ex, parse(t, callUnknown)).Message)
	if !strings.Contains(msg, "cannot tell which server") {
		t.Errorf("unresolved block message = %q", msg)
	}
	_, msg, _ = errorOf(t, e.Handle(context.Background(), ex, parse(t, callGithubCreate)).Message)
	if msg != "no github" {
		t.Errorf("block message = %q, want the rule's", msg)
	}
}

// TestServerShadows: a rule on servers neither shadows nor is shadowed by
// one without (their tool globs read different names).
func TestServerShadows(t *testing.T) {
	tests := []struct {
		name  string
		rules []intercept.Rule
		want  int
	}{
		{"servers vs none", []intercept.Rule{{Servers: []string{"github"}, Actions: []intercept.Action{blockIt}}, {Tools: []string{"x"}, Actions: []intercept.Action{blockIt}}}, 0},
		{"none vs servers", []intercept.Rule{{Tools: []string{"*"}, Actions: []intercept.Action{blockIt}}, {Servers: []string{"github"}, Tools: []string{"x"}, Actions: []intercept.Action{blockIt}}}, 0},
		{"covering servers", []intercept.Rule{{Servers: []string{"*"}, Actions: []intercept.Action{blockIt}}, {Servers: []string{"github"}, Tools: []string{"x"}, Actions: []intercept.Action{blockIt}}}, 1},
		{"other server", []intercept.Rule{{Servers: []string{"docs"}, Actions: []intercept.Action{blockIt}}, {Servers: []string{"github"}, Actions: []intercept.Action{blockIt}}}, 0},
		{"a prompt rule matches completions too", []intercept.Rule{{Methods: []string{"prompts/get"}, Actions: []intercept.Action{blockIt}}, {Prompts: []string{"x"}, Actions: []intercept.Action{blockIt}}}, 0},
		{"prompts/get and completions cover a prompt rule", []intercept.Rule{{Methods: []string{"prompts/get", "completion/complete"}, Actions: []intercept.Action{blockIt}}, {Prompts: []string{"x"}, Actions: []intercept.Action{blockIt}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(intercept.Unreachable(tt.rules)); got != tt.want {
				t.Errorf("unreachable = %d, want %d", got, tt.want)
			}
		})
	}
}
