// Command taskserver is a small MCP server of the 2026-07-28 revision that
// implements the tasks extension (io.modelcontextprotocol/tasks), which the
// go-sdk in go.mod does not: the caddytest tests run it behind the gateway,
// over stdio (the default) or Streamable HTTP (-http addr), as one of
// several replicas (-name).
//
// Its tool "slow" creates a task whose id names the replica; tasks/get
// reports it working on the first poll and completed ("done by <name>")
// from the second; tasks/update and tasks/cancel acknowledge; a task id it
// did not create is -32602, which is what a task request routed to the
// wrong replica gets. Over HTTP it checks Mcp-Name against params.taskId
// as the extension requires of clients.
//
// It also serves the 2025-11-25 revision, whose tasks are in the core
// protocol: after initialize (per process on stdio; by the request's
// MCP-Protocol-Version over HTTP, where it mints no session), a tools/call
// with params.task answers {"task": …}, tasks/get the task alone,
// tasks/result the tool's result, and tasks/list one task a page.
//
// Its tool "hold" never answers, so a test can keep a request in flight
// on one process.
//
// With -cursors, tools/list is one tool a page (slow, ask, hold) and the
// tool "ask" answers a 2026 client input_required, then "answered by
// <name>" to the retry that brings its requestState back. With -cursors
// local the nextCursor and requestState hold a secret of the process, so
// only the process that minted them understands them (as a server that
// keeps its pagination or a multi-round-trip call in memory): another
// process answers them -32602. With -cursors any, every process reads
// them alike.
//
// A 2026 subscriptions/listen naming task ids gets their states as
// notifications/tasks, then the subscription ends.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
)

const (
	version   = "2026-07-28"
	extension = "io.modelcontextprotocol/tasks"
)

type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type params struct {
	Name   string          `json:"name"`
	Task   json.RawMessage `json:"task"` // 2025-11-25: a task-augmented request
	TaskID string          `json:"taskId"`
	Cursor string          `json:"cursor"`
	// RequestState is a multi-round-trip retry's state (-local's "ask").
	RequestState string `json:"requestState"`
	// Notifications is a subscriptions/listen's filter.
	Notifications struct {
		TaskIDs []string `json:"taskIds"`
	} `json:"notifications"`
	Meta struct {
		Caps struct {
			Extensions map[string]json.RawMessage `json:"extensions"`
		} `json:"io.modelcontextprotocol/clientCapabilities"`
	} `json:"_meta"`
}

// server holds the replica's tasks: polls so far, or -1 once cancelled.
type server struct {
	name   string
	mu     sync.Mutex
	n      int
	tasks  map[string]int
	legacy bool // stdio: the process was initialized (2025-11-25)
	// secret is in every cursor and requestState it mints: the process's
	// own with -cursors local, "any" with -cursors any, "" without.
	secret string
}

// handle answers m; legacy says it is of the 2025-11-25 revision.
func (s *server) handle(m *message, legacy bool) *message {
	if m.ID == nil {
		return nil // notifications (cancelled, …) need no answer
	}
	var p params
	_ = json.Unmarshal(m.Params, &p)
	out := &message{JSONRPC: "2.0", ID: m.ID}
	switch m.Method {
	case "server/discover":
		out.Result = map[string]any{"supportedVersions": []string{version},
			"capabilities": map[string]any{"tools": map[string]any{}, "extensions": map[string]any{extension: map[string]any{}}},
			"_meta":        map[string]any{"io.modelcontextprotocol/serverInfo": map[string]string{"name": s.name, "version": "1"}}}
	case "initialize":
		out.Result = map[string]any{"protocolVersion": "2025-11-25",
			"capabilities": map[string]any{"tools": map[string]any{}, "tasks": map[string]any{"list": map[string]any{}, "requests": map[string]any{"tools": map[string]any{"call": map[string]any{}}}}},
			"serverInfo":   map[string]string{"name": s.name, "version": "1"}}
	case "tools/list":
		if s.secret != "" {
			out.Result, out.Error = s.localPage(p.Cursor)
			break
		}
		out.Result = map[string]any{"tools": []any{map[string]any{"name": "slow", "inputSchema": map[string]string{"type": "object"}}}}
	case "tools/call":
		if p.Name == "hold" {
			return nil // never answers: keeps the request in flight on this process
		}
		if p.Name == "ask" && s.secret != "" {
			out.Result, out.Error = s.ask(p.RequestState)
			break
		}
		if legacy {
			out.Result, out.Error = s.legacyCall(p)
			break
		}
		if _, ok := p.Meta.Caps.Extensions[extension]; !ok {
			out.Error = &rpcError{-32021, "Missing required client capability"}
			break
		}
		out.Result = task(s.newTask(), "working", nil, "task")
	case "tasks/list":
		out.Result, out.Error = s.list(p.Cursor)
	case "tasks/get", "tasks/update", "tasks/cancel", "tasks/result":
		out.Result, out.Error = s.taskRequest(m.Method, p.TaskID)
		if legacy && out.Error == nil {
			if m.Method == "tasks/cancel" { // 2025-11-25 answers the cancelled task
				out.Result, _ = s.taskRequest("tasks/get", p.TaskID)
			}
			out.Result = legacyShape(m.Method, out.Result.(map[string]any))
		}
	default:
		out.Error = &rpcError{-32601, "Method not found: " + m.Method}
	}
	return out
}

// listen answers a subscriptions/listen for task ids: the acknowledgement
// naming those of them it knows, each one's state as notifications/tasks,
// and the end of the subscription (a complete result), each notification
// carrying the subscription id (the listen's request id) as 2026 requires.
func (s *server) listen(m *message, p params) []*message {
	meta := map[string]any{"io.modelcontextprotocol/subscriptionId": m.ID}
	var known []string
	var states []*message
	s.mu.Lock()
	for _, id := range p.Notifications.TaskIDs {
		if polls, ok := s.tasks[id]; ok {
			known = append(known, id)
			t := task(id, map[bool]string{true: "working", false: "completed"}[polls == 0], nil, "")
			delete(t, "resultType")
			t["_meta"] = meta
			states = append(states, &message{JSONRPC: "2.0", Method: "notifications/tasks", Params: mustJSON(t)})
		}
	}
	s.mu.Unlock()
	ack := &message{JSONRPC: "2.0", Method: "notifications/subscriptions/acknowledged",
		Params: mustJSON(map[string]any{"notifications": map[string]any{"taskIds": known}, "_meta": meta})}
	done := &message{JSONRPC: "2.0", ID: m.ID, Result: map[string]string{"resultType": "complete"}}
	return append(append([]*message{ack}, states...), done)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// taskRequest answers a task's request, or -32602 for a task of another
// replica.
func (s *server) taskRequest(method, id string) (any, *rpcError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	polls, ok := s.tasks[id]
	if !ok {
		return nil, &rpcError{-32602, "Failed to retrieve task: Task not found"}
	}
	switch method {
	case "tasks/cancel":
		s.tasks[id] = -1
		return map[string]any{"resultType": "complete"}, nil
	case "tasks/update":
		return map[string]any{"resultType": "complete"}, nil
	case "tasks/result":
		if polls == 0 {
			polls = 1 // the result is awaited: it is ready at once
		}
	}
	switch {
	case polls < 0:
		return task(id, "cancelled", nil, "complete"), nil
	case polls == 0:
		s.tasks[id] = 1
		return task(id, "working", nil, "complete"), nil
	}
	result := map[string]any{"content": []any{map[string]string{"type": "text", "text": "done by " + s.name}}}
	return task(id, "completed", result, "complete"), nil
}

// list answers a 2025-11-25 tasks/list one task a page, in the order
// they were created; the cursor is the next task's number.
func (s *server) list(cursor string) (any, *rpcError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 1
	if cursor != "" {
		var err error
		if n, err = strconv.Atoi(cursor); err != nil || n < 1 || n > s.n {
			return nil, &rpcError{-32602, "invalid cursor"}
		}
	}
	if n > s.n {
		return map[string]any{"tasks": []any{}}, nil
	}
	id := "task-" + s.name + "-" + strconv.Itoa(n)
	t := task(id, map[bool]string{true: "working", false: "completed"}[s.tasks[id] == 0], nil, "")
	delete(t, "resultType")
	out := map[string]any{"tasks": []any{t}}
	if n < s.n {
		out["nextCursor"] = strconv.Itoa(n + 1)
	}
	return out, nil
}

// newTask creates a task and returns its id.
func (s *server) newTask() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	id := "task-" + s.name + "-" + strconv.Itoa(s.n)
	s.tasks[id] = 0
	return id
}

// legacyCall answers a 2025-11-25 tools/call: a task when params.task
// asks for one, else the result at once.
func (s *server) legacyCall(p params) (any, *rpcError) {
	if p.Task == nil {
		return map[string]any{"content": []any{map[string]string{"type": "text", "text": "done by " + s.name}}}, nil
	}
	t := task(s.newTask(), "working", nil, "")
	delete(t, "resultType")
	return map[string]any{"task": t}, nil
}

// legacyShape turns a 2026 task answer into the 2025-11-25 one: tasks/get
// is the task without its result, tasks/result the tool's result.
func legacyShape(method string, r map[string]any) any {
	delete(r, "resultType")
	if method == "tasks/result" {
		return r["result"]
	}
	delete(r, "result")
	return r
}

func task(id, status string, result any, resultType string) map[string]any {
	t := map[string]any{"resultType": resultType, "taskId": id, "status": status,
		"createdAt": "2026-12-01T00:00:00Z", "lastUpdatedAt": "2026-12-01T00:00:00Z", "ttlMs": 60000, "pollIntervalMs": 10}
	if result != nil {
		t["result"] = result
	}
	return t
}

func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var m message
	if json.Unmarshal(body, &m) != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	var p params
	_ = json.Unmarshal(m.Params, &p)
	v := r.Header.Get("Mcp-Protocol-Version")
	legacy := m.Method == "initialize" || v == "2025-11-25"
	if m.Method == "subscriptions/listen" && v == version {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, out := range s.listen(&m, p) {
			b, _ := json.Marshal(out)
			fmt.Fprintf(w, "event: message\ndata: %s\n\n", b)
		}
		return
	}
	status, out := http.StatusOK, s.handle(&m, legacy)
	switch {
	case !legacy && v != version:
		status, out = http.StatusBadRequest, &message{JSONRPC: "2.0", ID: m.ID, Error: &rpcError{-32022, "Unsupported protocol version"}}
	case !legacy && p.TaskID != "" && r.Header.Get("Mcp-Name") != p.TaskID:
		status, out = http.StatusBadRequest, &message{JSONRPC: "2.0", ID: m.ID, Error: &rpcError{-32020, "Mcp-Name does not match params.taskId"}}
	}
	if out == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func (s *server) serveStdio(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var m message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.Method == "initialize" {
			s.legacy = true
		}
		if m.Method == "subscriptions/listen" {
			var p params
			_ = json.Unmarshal(m.Params, &p)
			for _, out := range s.listen(&m, p) {
				if err := enc.Encode(out); err != nil {
					return err
				}
			}
			continue
		}
		if a := s.handle(&m, s.legacy); a != nil {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

func main() {
	name := flag.String("name", "A", "the replica's name, in its task ids and results")
	cursors := flag.String("cursors", "", "page tools/list and serve ask: local (cursors and requestState only this process understands) or any")
	addr := flag.String("http", "", "serve Streamable HTTP at /mcp on this address instead of stdio")
	flag.Parse()
	s := &server{name: *name, tasks: make(map[string]int)}
	switch *cursors {
	case "local":
		s.secret = newSecret()
	case "any":
		s.secret = "any"
	case "":
	default:
		log.Fatalf("-cursors must be local or any, got %q", *cursors)
	}
	if *addr == "" {
		if err := s.serveStdio(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	http.HandleFunc("/mcp", s.serveHTTP)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
