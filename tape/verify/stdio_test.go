package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// buildGreeter builds testdata/greeter, a go-sdk stdio server, and
// returns the binary's path.
func buildGreeter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "greeter")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/greeter").CombinedOutput()
	if err != nil {
		t.Fatalf("building the greeter: %v\n%s", err, out)
	}
	return bin
}

// stdioSession is a client side that the greeter answers: a session
// whose roots tool makes the server ask the client for its roots.
var stdioSession = []string{
	`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"t","version":"0"}}}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"greet","arguments":{"name":"tape"}}}`,
	`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"roots","arguments":{}}}`,
}

// rootsAnswer is the client's answer to the server's roots/list.
const rootsAnswer = `{"jsonrpc":"2.0","id":0,"result":{"roots":[{"uri":"file:///work/project"}]}}`

// recordOn runs the client side against target and returns the tape the
// recorder would write of it: each client message, each server request
// and the client's answer to it, each answer.
func recordOn(t *testing.T, target Target) *tape.File {
	t.Helper()
	defer target.Close()
	f := &tape.File{Name: "stdio.jsonl", Parts: 1}
	add := func(dir string, m json.RawMessage) { f.Records = append(f.Records, tape.Record{Dir: dir, Msg: m}) }
	for _, m := range stdioSession {
		add(tape.ClientToServer, json.RawMessage(m))
		if err := target.Send(context.Background(), json.RawMessage(m)); err != nil {
			t.Fatal(err)
		}
		e := envelope(json.RawMessage(m))
		if !e.isRequest() {
			continue
		}
		answer, err := await(context.Background(), target, e.ID, 10*time.Second, func(req envelopeT) {
			b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID, "method": req.Method})
			add(tape.ServerToClient, b)
			var a map[string]json.RawMessage
			_ = json.Unmarshal([]byte(rootsAnswer), &a)
			a["id"] = req.ID
			b, _ = json.Marshal(a)
			add(tape.ClientToServer, b)
			_ = target.Send(context.Background(), b)
		})
		if err != nil {
			t.Fatal(err)
		}
		add(tape.ServerToClient, answer)
	}
	return f
}

// withoutClientAnswers is f without the client's answers to server
// requests.
func withoutClientAnswers(f *tape.File) *tape.File {
	out := *f
	out.Records = nil
	for _, r := range f.Records {
		if r.Dir == tape.ClientToServer && envelope(r.Msg).isResponse() {
			continue
		}
		out.Records = append(out.Records, r)
	}
	return &out
}

// TestVerifyStdio: a tape of a real stdio server's session, server
// request included, verifies against the same server run again; against
// one whose tool answers otherwise, or when the tape lacks the client's
// answer to the server's request, the report names the request and the
// differing path.
func TestVerifyStdio(t *testing.T) {
	bin := buildGreeter(t)
	start := func(t *testing.T, word string) Target {
		t.Helper()
		target, err := Command([]string{bin, word}, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		return target
	}
	recorded := recordOn(t, start(t, "hello"))
	if got := string(recorded.Records[len(recorded.Records)-1].Msg); !strings.Contains(got, "file:///work/project") {
		t.Fatalf("the recorded roots answer is %s", got)
	}
	for _, tc := range []struct {
		name  string
		word  string
		tape  *tape.File
		diffs int
		want  []string
	}{
		{"the same server", "hello", recorded, 0, []string{"OK: stdio.jsonl: 3 requests, every answer as recorded"}},
		{"a server that answers otherwise", "goodbye", recorded, 1, []string{
			"DIFF record 4, tools/call greet #2:",
			`/result/content/0/text: recorded "hello tape", live "goodbye tape"`,
			"FAIL: stdio.jsonl: 1 of 3 answers differ",
		}},
		{"the tape lacks the client's answer", "hello", withoutClientAnswers(recorded), 1, []string{
			"tools/call roots #3:",
			`/result/isError: recorded absent, live true`,
			"FAIL: stdio.jsonl: 1 of 3 answers differ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := start(t, tc.word)
			rep, err := Run(context.Background(), tc.tape, target, Options{Timeout: 10 * time.Second})
			_ = target.Close()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			Print(&out, tc.tape.Name, rep)
			if len(rep.Differences) != tc.diffs || rep.Requests != 3 {
				t.Errorf("%d differences of %d requests, want %d of 3", len(rep.Differences), rep.Requests, tc.diffs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the report lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestStdioTargetFailures: a command that cannot start, and a server that
// exits before it answers, are errors that say so.
func TestStdioTargetFailures(t *testing.T) {
	if _, err := Command(nil, nil); err == nil || !strings.Contains(err.Error(), "empty command") {
		t.Errorf("Command(nil): %v", err)
	}
	if _, err := Command([]string{filepath.Join(t.TempDir(), "missing")}, nil); err == nil || !strings.Contains(err.Error(), "starting the server") {
		t.Errorf("Command of a missing binary: %v", err)
	}
	target, err := Command([]string{buildGreeter(t), "exit"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	f := &tape.File{Name: "t", Records: []tape.Record{
		{Dir: tape.ClientToServer, Msg: json.RawMessage(stdioSession[0])},
	}}
	// The timeout only bounds a broken run: the server's exit must end
	// the wait at once, with an error that says so.
	_, err = Run(context.Background(), f, target, Options{Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "the server ended before answering") {
		t.Errorf("Run against a server that exited: %v", err)
	}
	if _, err := Run(context.Background(), f, target, Options{Ignore: []string{"no-slash"}}); err == nil || !strings.Contains(err.Error(), "--ignore") {
		t.Errorf("Run with a bad --ignore: %v", err)
	}
}
