package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/sse"
)

// maxMessage bounds one server message a target reads.
const maxMessage = 16 << 20

// Target is a live MCP server that the client side of a tape is replayed
// against: Send writes a client message, Recv yields every server message.
type Target interface {
	// Send writes one client message.
	Send(ctx context.Context, msg json.RawMessage) error
	// Recv yields the server's messages, in the order they arrived.
	Recv() <-chan json.RawMessage
	// Close ends the session and stops the target's goroutines, waiting for them.
	Close() error
}

// stdioTarget is a server run as a subprocess, speaking newline-delimited JSON.
type stdioTarget struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	recv   chan json.RawMessage
	stop   chan struct{}
	reader sync.WaitGroup
	mu     sync.Mutex // serializes writes to stdin
}

// Command starts argv as a stdio MCP server; its stderr goes to stderr.
func Command(argv []string, stderr io.Writer) (Target, error) {
	if len(argv) == 0 {
		return nil, errors.New("verify: empty command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("verify: starting the server: %v", err)
	}
	t := &stdioTarget{cmd: cmd, stdin: stdin, recv: make(chan json.RawMessage, 256), stop: make(chan struct{})}
	t.reader.Add(1)
	go func() {
		defer t.reader.Done()
		defer close(t.recv) // the server's exit ends a wait for its answer at once
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), maxMessage)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 || line[0] != '{' {
				continue
			}
			select {
			case t.recv <- json.RawMessage(bytes.Clone(line)):
			case <-t.stop:
				return
			}
		}
	}()
	return t, nil
}

func (t *stdioTarget) Send(_ context.Context, msg json.RawMessage) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.stdin.Write(append(bytes.Clone(msg), '\n'))
	return err
}

func (t *stdioTarget) Recv() <-chan json.RawMessage { return t.recv }

// Close closes stdin, waits a little for the exit, then kills the server.
func (t *stdioTarget) Close() error {
	close(t.stop)
	_ = t.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- t.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = t.cmd.Process.Kill()
		<-done
	}
	t.reader.Wait()
	return nil
}

// httpTarget is a server reached over Streamable HTTP.
type httpTarget struct {
	url    string
	client *http.Client
	recv   chan json.RawMessage
	ctx    context.Context
	cancel context.CancelFunc
	posts  sync.WaitGroup

	mu        sync.Mutex
	sessionID string
	version   string
}

// HTTP returns a target that POSTs each client message to url and reads
// the answers, JSON or SSE, as they arrive.
func HTTP(url string, client *http.Client) Target {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &httpTarget{url: url, client: client, recv: make(chan json.RawMessage, 256), ctx: ctx, cancel: cancel}
}

func (t *httpTarget) Recv() <-chan json.RawMessage { return t.recv }

// Send POSTs msg; the answer is read on a goroutine of its own, so that a
// server request on one POST's stream can be answered by another POST.
func (t *httpTarget) Send(_ context.Context, msg json.RawMessage) error {
	req, err := http.NewRequestWithContext(t.ctx, http.MethodPost, t.url, bytes.NewReader(msg))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	t.mu.Lock()
	if t.sessionID != "" {
		req.Header.Set("Mcp-Session-Id", t.sessionID)
	}
	if t.version != "" {
		req.Header.Set("MCP-Protocol-Version", t.version)
	}
	t.mu.Unlock()
	var env struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	_ = json.Unmarshal(msg, &env)
	t.posts.Add(1)
	go func() {
		defer t.posts.Done()
		t.post(req, env.ID, env.Method)
	}()
	return nil
}

func (t *httpTarget) post(req *http.Request, id json.RawMessage, method string) {
	resp, err := t.client.Do(req)
	if err != nil {
		if id != nil && method != "" {
			t.emit(failure(id, "the request failed: "+err.Error()))
		}
		return
	}
	defer resp.Body.Close()
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		t.mu.Lock()
		t.sessionID = sid
		t.mu.Unlock()
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case ct == "text/event-stream":
		r := sse.NewReader(resp.Body, maxMessage)
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if ev.IsMessage() {
				t.emit(json.RawMessage(bytes.Clone(ev.Data)))
			}
		}
	case ct == "application/json":
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
		if err == nil && len(bytes.TrimSpace(body)) > 0 {
			t.emit(json.RawMessage(body))
			return
		}
	}
	if resp.StatusCode >= 300 && id != nil && method != "" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.emit(failure(id, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))))
	}
}

// emit hands a server message on; an initialize result sets the protocol
// version the following requests carry.
func (t *httpTarget) emit(m json.RawMessage) {
	var r struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	if json.Unmarshal(m, &r) == nil && r.Result.ProtocolVersion != "" {
		t.mu.Lock()
		t.version = r.Result.ProtocolVersion
		t.mu.Unlock()
	}
	select {
	case t.recv <- m:
	case <-t.ctx.Done():
	}
}

// Close ends the session (DELETE) and waits for the POSTs' readers.
func (t *httpTarget) Close() error {
	t.mu.Lock()
	sid := t.sessionID
	t.mu.Unlock()
	if sid != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, t.url, nil); err == nil {
			req.Header.Set("Mcp-Session-Id", sid)
			if resp, err := t.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		cancel()
	}
	t.cancel()
	t.posts.Wait()
	return nil
}

// failure is the stand-in answer for a request the target could not deliver.
func failure(id json.RawMessage, msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": -32000, "message": "verify: " + msg}})
	return b
}
