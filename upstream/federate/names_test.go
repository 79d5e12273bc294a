package federate

import (
	"regexp"
	"strings"
	"sync"
	"testing"
)

var providerName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func TestAssign(t *testing.T) {
	long := strings.Repeat("x", 70)
	servers := []string{"github", "docs"}
	tests := []struct {
		name   string
		mode   Prefix
		sep    string
		lists  [][]string
		want   [][]string
		hidden []Hidden
	}{
		{"always prefixes every name", PrefixAlways, "_",
			[][]string{{"search", "create_issue"}, {"search"}},
			[][]string{{"github_search", "github_create_issue"}, {"docs_search"}}, nil},
		{"always with another separator", PrefixAlways, "--",
			[][]string{{"a"}, {"a"}}, [][]string{{"github--a"}, {"docs--a"}}, nil},
		{"conditional prefixes only collisions", PrefixConditional, "_",
			[][]string{{"search", "create_issue"}, {"search", "read"}},
			[][]string{{"github_search", "create_issue"}, {"docs_search", "read"}}, nil},
		{"conditional: a prefixed name that meets a plain one", PrefixConditional, "_",
			[][]string{{"x", "y"}, {"x", "github_x"}},
			[][]string{{"github_x", "y"}, {"docs_x", ""}},
			[]Hidden{{Name: "github_x", Server: "docs", Winner: "github"}}},
		{"never: the first server wins", PrefixNever, "_",
			[][]string{{"search"}, {"search", "read"}},
			[][]string{{"search"}, {"", "read"}},
			[]Hidden{{Name: "search", Server: "docs", Winner: "github"}}},
		{"a server listing a name twice shows it once", PrefixNever, "_",
			[][]string{{"a", "a"}, nil}, [][]string{{"a", ""}, {}},
			[]Hidden{{Name: "a", Server: "github", Winner: "github"}}},
		{"too long: cut plus hash", PrefixAlways, "_",
			[][]string{{long}, nil}, [][]string{{Visible("github_" + long)}, {}}, nil},
		{"invalid characters: replaced plus hash", PrefixNever, "_",
			[][]string{{"a.b", "a_b"}, {"c:d"}},
			[][]string{{"a_b-" + hash8("a.b"), "a_b"}, {"c_d-" + hash8("c:d")}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hidden := Assign(tt.mode, tt.sep, servers, tt.lists)
			for i := range tt.want {
				if strings.Join(got[i], ",") != strings.Join(tt.want[i], ",") {
					t.Errorf("server %s: got %q, want %q", servers[i], got[i], tt.want[i])
				}
				for _, n := range got[i] {
					if n != "" && !providerName.MatchString(n) {
						t.Errorf("%q is not a valid model-provider name", n)
					}
				}
			}
			if len(hidden) != len(tt.hidden) {
				t.Fatalf("hidden %v, want %v", hidden, tt.hidden)
			}
			for i := range hidden {
				if hidden[i] != tt.hidden[i] {
					t.Errorf("hidden %v, want %v", hidden[i], tt.hidden[i])
				}
			}
			// Both directions: every visible name resolves to its server
			// and own name, and back.
			table, _ := NewTable(tt.mode, tt.sep, servers, tt.lists)
			for i, l := range tt.lists {
				for j, own := range l {
					n := got[i][j]
					if n == "" {
						continue
					}
					ref, ok := table.Resolve(n)
					if !ok || ref != (Ref{Server: i, Own: own}) {
						t.Errorf("Resolve(%q) = %v %v, want %d %q", n, ref, ok, i, own)
					}
					if back, _ := table.Name(i, own); back != n {
						t.Errorf("Name(%d, %q) = %q, want %q", i, own, back, n)
					}
				}
			}
		})
	}
}

func hash8(s string) string {
	v := Visible(s)
	return v[len(v)-hashLen:]
}

// The shortened form is the same in every process (a golden value), at
// most 64 characters, and differs for names that differ only past the cut.
func TestVisibleStable(t *testing.T) {
	long := "github_" + strings.Repeat("very_long_tool_name_", 4)
	if got, want := Visible(long), "github_very_long_tool_name_very_long_tool_name_very_lon-a123892e"; got != want {
		t.Errorf("Visible = %q, want %q (the form must never change: clients keep it)", got, want)
	}
	a, b := Visible(long+"a"), Visible(long+"b")
	if a == b || len(a) != MaxName || !providerName.MatchString(a) {
		t.Errorf("Visible: %q and %q", a, b)
	}
	if Visible("ok_name-1") != "ok_name-1" {
		t.Error("a valid name changed")
	}
}

func TestResolveAlwaysUnlisted(t *testing.T) {
	servers := []string{"github", "docs"}
	table, _ := NewTable(PrefixAlways, "_", servers, [][]string{nil, nil})
	for _, tt := range []struct {
		name string
		ref  Ref
		ok   bool
	}{
		{"docs_search", Ref{1, "search"}, true},
		{"github_create_issue", Ref{0, "create_issue"}, true},
		{"wiki_search", Ref{}, false},
		{"search", Ref{}, false},
		{Visible("github_" + strings.Repeat("y", 70)), Ref{}, false}, // shortened: only from a listing
	} {
		ref, ok := table.Resolve(tt.name)
		if ok != tt.ok || ref != tt.ref {
			t.Errorf("Resolve(%q) = %v %v, want %v %v", tt.name, ref, ok, tt.ref, tt.ok)
		}
	}
	never, _ := NewTable(PrefixNever, "_", servers, [][]string{nil, nil})
	if _, ok := never.Resolve("docs_search"); ok {
		t.Error("never mode resolved an unlisted name")
	}
}

func TestValidServerName(t *testing.T) {
	for _, tt := range []struct {
		name, sep string
		ok        bool
	}{
		{"github", "_", true},
		{"docs-2", "_", true},
		{strings.Repeat("a", 32), "_", true},
		{strings.Repeat("a", 33), "_", false},
		{"", "_", false},
		{"git_hub", "_", false},
		{"docs-2", "-", false},
		{"a.b", "_", false},
	} {
		if err := ValidServerName(tt.name, tt.sep); (err == nil) != tt.ok {
			t.Errorf("ValidServerName(%q, %q) = %v", tt.name, tt.sep, err)
		}
	}
	for _, sep := range []string{"", ".", ":", "_____"} {
		if ValidSeparator(sep) == nil {
			t.Errorf("separator %q accepted", sep)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := encodeCursor("docs", "abc==")
	s, cur, err := decodeCursor(c)
	if err != nil || s != "docs" || cur != "abc==" {
		t.Fatalf("decode(%q) = %q %q %v", c, s, cur, err)
	}
	for _, bad := range []string{"", "!!", encodeCursor("", "x")} {
		if _, _, err := decodeCursor(bad); err == nil {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
}

func TestServerOf(t *testing.T) {
	_, _, ups := twoPeers(t, 0)
	c := open(t, PrefixNever, []string{"alpha", "beta"}, ups)
	c.initialize()
	if got := c.f.ServerOf("tools/call", "own_beta"); got != "" {
		t.Errorf("before any list: %q", got)
	}
	c.names("tools/list", "tools", "name")
	c.names("resources/list", "resources", "uri")
	for _, tt := range []struct{ method, target, want string }{
		{"tools/call", "own_beta", "beta"},
		{"tools/call", "echo", "alpha"},
		{"tools/call", "nope", ""},
		{"resources/read", "beta://readme", "beta"},
		{"ping", "", ""},
	} {
		if got := c.f.ServerOf(tt.method, tt.target); got != tt.want {
			t.Errorf("ServerOf(%s, %s) = %q, want %q", tt.method, tt.target, got, tt.want)
		}
	}
	always, _ := New(Config{Servers: []Server{{Name: "a", Upstream: ups[0]}, {Name: "b", Upstream: ups[1]}}})
	if got := always.ServerOf("prompts/get", "b_greet"); got != "b" {
		t.Errorf("prefix always: %q", got)
	}
}

// TestHiddenCounted: with prefix never, each name a later server lists
// too is told to Hidden once, however often the lists are read.
func TestHiddenCounted(t *testing.T) {
	_, _, ups := twoPeers(t, 0)
	var mu sync.Mutex
	hidden := map[string]int{}
	c := openConfig(t, Config{Prefix: PrefixNever, Servers: []Server{{Name: "alpha", Upstream: ups[0]}, {Name: "beta", Upstream: ups[1]}},
		Hidden: func(list string) {
			mu.Lock()
			defer mu.Unlock()
			hidden[list]++
		}})
	c.initialize()
	for range 2 {
		c.names("tools/list", "tools", "name")
		c.names("prompts/list", "prompts", "name")
	}
	mu.Lock()
	defer mu.Unlock()
	// echo and ask are both servers' tools, greet both servers' prompt.
	if hidden["tools"] != 2 || hidden["prompts"] != 1 || len(hidden) != 2 {
		t.Errorf("hidden %v, want tools 2 (echo, ask), prompts 1 (greet)", hidden)
	}
}
