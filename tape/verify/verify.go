// Package verify replays the client side of a tape against a live MCP
// server and reports each answer that differs from the recorded one: a
// regression test for a server from one recorded session.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// DefaultTimeout bounds the wait for each answer.
const DefaultTimeout = 30 * time.Second

// MaxChangesShown bounds the changed paths Print shows per answer.
const MaxChangesShown = 12

// Options configure a verification.
type Options struct {
	// Ignore lists JSON pointers into answers that are not compared
	// (volatile fields: timestamps, versions); "*" matches any member.
	Ignore []string
	// Timeout bounds the wait for each answer (DefaultTimeout).
	Timeout time.Duration
}

// Difference is one recorded answer the live server answered otherwise.
type Difference struct {
	// Index is the request's position among the tape's records (1-based).
	Index int
	// Request names it: method, tool, id.
	Request string
	// Changes are the differing paths, "<pointer>: recorded X, live Y".
	Changes []string
}

// Report is the outcome of a verification.
type Report struct {
	// Requests is how many recorded requests were sent.
	Requests int
	// Differences are the answers that differ.
	Differences []Difference
	// Drifts are the tools whose definitions the live server lists
	// otherwise (drift.go); they are not Differences.
	Drifts []Drift
}

// Failed reports whether the live server answered otherwise than the tape.
func (r *Report) Failed() bool { return len(r.Differences) > 0 || len(r.Drifts) > 0 }

// Run sends the client side of f to t in recorded order, waits for each
// request's answer and compares it with the recorded one. Requests the
// server makes meanwhile (sampling, elicitation, roots) are answered with
// the client's recorded answers, in order. Notifications are sent but
// their effects are not compared.
func Run(ctx context.Context, f *tape.File, t Target, opts Options) (*Report, error) {
	ignore, err := tape.NewRedactor(opts.Ignore)
	if err != nil {
		return nil, fmt.Errorf("--ignore: %v", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	recorded := map[string]json.RawMessage{} // request id → recorded answer
	for _, r := range f.Records {
		if msg, ok := r.Upstream(); ok && r.Dir == tape.ServerToClient {
			if e := envelope(msg); e.isResponse() {
				if _, seen := recorded[string(e.ID)]; !seen {
					recorded[string(e.ID)] = msg
				}
			}
		}
	}
	sent := make([]bool, len(f.Records))
	rep := &Report{}
	for i, r := range f.Records {
		msg, reached := r.Upstream()
		if r.Dir != tape.ClientToServer || sent[i] || !reached {
			continue // the server never saw it
		}
		e := envelope(msg)
		if err := t.Send(ctx, msg); err != nil {
			return rep, fmt.Errorf("record %d (%s): sending: %v", i+1, e.name(), err)
		}
		sent[i] = true
		if !e.isRequest() {
			continue
		}
		rep.Requests++
		live, err := await(ctx, t, e.ID, opts.Timeout, func(serverReq envelopeT) {
			answerServerRequest(ctx, t, f, sent, i, serverReq)
		})
		if err != nil {
			return rep, fmt.Errorf("record %d (%s): %v", i+1, e.name(), err)
		}
		want, ok := recorded[string(e.ID)]
		if !ok {
			continue // recorded without an answer (the session ended first)
		}
		changes := compare(ignore, want, live)
		if e.Method == "tools/list" {
			ds, rest, listed, err := compareList(opts.Ignore, i+1, want, live)
			if err != nil {
				return nil, fmt.Errorf("--ignore: %v", err)
			}
			if listed {
				rep.Drifts = append(rep.Drifts, ds...)
				changes = rest
			}
		}
		if len(changes) > 0 {
			rep.Differences = append(rep.Differences, Difference{Index: i + 1, Request: e.name(), Changes: changes})
		}
	}
	return rep, nil
}

// await reads server messages until the answer to id, handing server
// requests to onRequest.
func await(ctx context.Context, t Target, id json.RawMessage, timeout time.Duration, onRequest func(envelopeT)) (json.RawMessage, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-t.Recv():
			if !ok {
				return nil, fmt.Errorf("the server ended before answering")
			}
			e := envelope(m)
			switch {
			case e.isResponse() && bytes.Equal(e.ID, id):
				return m, nil
			case e.isRequest():
				onRequest(e)
			}
		case <-timer.C:
			return nil, fmt.Errorf("no answer within %s", timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// answerServerRequest answers a live server request with the client's next
// recorded answer after record i (its id rewritten to the live request's),
// or with an error when the tape holds none.
func answerServerRequest(ctx context.Context, t Target, f *tape.File, sent []bool, i int, req envelopeT) {
	for j := i + 1; j < len(f.Records); j++ {
		r := f.Records[j]
		if sent[j] || r.Dir != tape.ClientToServer {
			continue
		}
		if e := envelope(r.Msg); e.isResponse() {
			sent[j] = true
			var m map[string]json.RawMessage
			if json.Unmarshal(r.Msg, &m) == nil {
				m["id"] = req.ID
				b, _ := json.Marshal(m)
				_ = t.Send(ctx, b)
			}
			return
		}
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID,
		"error": map[string]any{"code": -32601, "message": "verify: the tape holds no answer to " + req.Method}})
	_ = t.Send(ctx, b)
}

// compare returns the differences between the recorded and the live
// answer, ids and ignored pointers aside.
func compare(ignore *tape.Redactor, recorded, live json.RawMessage) []string {
	a, err1 := ignore.Apply(recorded)
	b, err2 := ignore.Apply(live)
	if err1 != nil || err2 != nil {
		return []string{fmt.Sprintf("(unparseable answer: %v %v)", err1, err2)}
	}
	va, vb := decode(a), decode(b)
	if ma, ok := va.(map[string]any); ok {
		delete(ma, "id")
	}
	if mb, ok := vb.(map[string]any); ok {
		delete(mb, "id")
	}
	var out []string
	diff("", va, vb, &out)
	return out
}

func decode(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v)
	return v
}

// diff appends "<pointer>: recorded X, live Y" for every difference.
func diff(path string, a, b any, out *[]string) {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range x {
				keys[k] = true
			}
			for k := range y {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				p := path + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
				va, ina := x[k]
				vb, inb := y[k]
				switch {
				case !inb:
					*out = append(*out, fmt.Sprintf("%s: recorded %s, live absent", p, show(va)))
				case !ina:
					*out = append(*out, fmt.Sprintf("%s: recorded absent, live %s", p, show(vb)))
				default:
					diff(p, va, vb, out)
				}
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < max(len(x), len(y)); i++ {
				p := path + "/" + strconv.Itoa(i)
				switch {
				case i >= len(y):
					*out = append(*out, fmt.Sprintf("%s: recorded %s, live absent", p, show(x[i])))
				case i >= len(x):
					*out = append(*out, fmt.Sprintf("%s: recorded absent, live %s", p, show(y[i])))
				default:
					diff(p, x[i], y[i], out)
				}
			}
			return
		}
	default:
		if fmt.Sprint(a) == fmt.Sprint(b) && sameKind(a, b) {
			return
		}
	}
	if path == "" {
		path = "/"
	}
	*out = append(*out, fmt.Sprintf("%s: recorded %s, live %s", path, show(a), show(b)))
}

func sameKind(a, b any) bool { return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) }

// show renders a value for a difference line, truncated.
func show(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "…"
	}
	return s
}

// envelopeT is the part of a message verification looks at.
type envelopeT struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name string `json:"name"`
	} `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func envelope(m json.RawMessage) envelopeT {
	var e envelopeT
	_ = json.Unmarshal(m, &e)
	return e
}

func (e envelopeT) isRequest() bool { return e.Method != "" && e.ID != nil }
func (e envelopeT) isResponse() bool {
	return e.Method == "" && e.ID != nil && (e.Result != nil || e.Error != nil)
}

func (e envelopeT) name() string {
	s := e.Method
	if e.Params.Name != "" && (e.Method == "tools/call" || e.Method == "prompts/get") {
		s += " " + e.Params.Name
	}
	if e.ID != nil {
		s += " #" + string(e.ID)
	}
	return s
}

// Print writes a readable report: a line per differing answer and one per
// changed path under it, then a summary.
func Print(w io.Writer, name string, rep *Report) {
	printDrifts(w, rep.Drifts)
	for _, d := range rep.Differences {
		fmt.Fprintf(w, "DIFF record %d, %s:\n", d.Index, d.Request)
		for i, c := range d.Changes {
			if i == MaxChangesShown {
				fmt.Fprintf(w, "    … and %d more differences\n", len(d.Changes)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", c)
		}
	}
	if !rep.Failed() {
		fmt.Fprintf(w, "OK: %s: %d requests, every answer as recorded\n", name, rep.Requests)
		return
	}
	fmt.Fprintf(w, "FAIL: %s: %d of %d answers differ, %d tool definitions drifted\n", name, len(rep.Differences), rep.Requests, len(rep.Drifts))
}
