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
	Name   string `json:"name"`
	TaskID string `json:"taskId"`
	Meta   struct {
		Caps struct {
			Extensions map[string]json.RawMessage `json:"extensions"`
		} `json:"io.modelcontextprotocol/clientCapabilities"`
	} `json:"_meta"`
}

// server holds the replica's tasks: polls so far, or -1 once cancelled.
type server struct {
	name  string
	mu    sync.Mutex
	n     int
	tasks map[string]int
}

func (s *server) handle(m *message) *message {
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
	case "tools/list":
		out.Result = map[string]any{"tools": []any{map[string]any{"name": "slow", "inputSchema": map[string]string{"type": "object"}}}}
	case "tools/call":
		if _, ok := p.Meta.Caps.Extensions[extension]; !ok {
			out.Error = &rpcError{-32021, "Missing required client capability"}
			break
		}
		s.mu.Lock()
		s.n++
		id := "task-" + s.name + "-" + strconv.Itoa(s.n)
		s.tasks[id] = 0
		s.mu.Unlock()
		out.Result = task(id, "working", nil, "task")
	case "tasks/get", "tasks/update", "tasks/cancel":
		out.Result, out.Error = s.taskRequest(m.Method, p.TaskID)
	default:
		out.Error = &rpcError{-32601, "Method not found: " + m.Method}
	}
	return out
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
		return map[string]string{"resultType": "complete"}, nil
	case "tasks/update":
		return map[string]string{"resultType": "complete"}, nil
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
	status, out := http.StatusOK, s.handle(&m)
	switch {
	case r.Header.Get("Mcp-Protocol-Version") != version:
		status, out = http.StatusBadRequest, &message{JSONRPC: "2.0", ID: m.ID, Error: &rpcError{-32022, "Unsupported protocol version"}}
	case p.TaskID != "" && r.Header.Get("Mcp-Name") != p.TaskID:
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
		if a := s.handle(&m); a != nil {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

func main() {
	name := flag.String("name", "A", "the replica's name, in its task ids and results")
	addr := flag.String("http", "", "serve Streamable HTTP at /mcp on this address instead of stdio")
	flag.Parse()
	s := &server{name: *name, tasks: make(map[string]int)}
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
