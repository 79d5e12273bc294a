package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The startup and memory measurements speak Streamable HTTP by hand: one
// request is one HTTP exchange, timed exactly, and thousands of sessions
// cost the benchmark no client state beyond an id.

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + protocolRevision +
	`","capabilities":{},"clientInfo":{"name":"caddy-mcp-bench","version":"0"}}}`

const initializedBody = `{"jsonrpc":"2.0","method":"notifications/initialized"}`

type rawClient struct {
	hc  *http.Client
	url string
}

func (c *rawClient) request(ctx context.Context, method, sid, body string) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch method {
	case http.MethodGet:
		req.Header.Set("Accept", "text/event-stream")
	default:
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("MCP-Protocol-Version", protocolRevision)
	}
	return req, nil
}

// initialize opens a session: it returns the session id and the time from
// sending the request to holding the whole initialize result.
func (c *rawClient) initialize(ctx context.Context) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := c.request(ctx, http.MethodPost, "", initializeBody)
	if err != nil {
		return "", 0, err
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", 0, fmt.Errorf("initialize: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	msg, err := readResponse(resp, `1`)
	if err != nil {
		return "", 0, fmt.Errorf("initialize: %w", err)
	}
	took := time.Since(start)
	var m struct {
		Result struct {
			ProtocolVersion string          `json:"protocolVersion"`
			ServerInfo      json.RawMessage `json:"serverInfo"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return "", 0, fmt.Errorf("initialize: %w in %s", err, msg)
	}
	if m.Error != nil || m.Result.ProtocolVersion != protocolRevision || m.Result.ServerInfo == nil {
		return "", 0, fmt.Errorf("initialize: unexpected answer %s", msg)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		return "", 0, fmt.Errorf("initialize: no Mcp-Session-Id")
	}
	// Drain what remains of an SSE answer so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return sid, took, nil
}

// notify sends notifications/initialized on a session.
func (c *rawClient) initialized(ctx context.Context, sid string) error {
	return c.expect2xx(ctx, http.MethodPost, sid, initializedBody)
}

// end sends DELETE for a session.
func (c *rawClient) end(ctx context.Context, sid string) error {
	return c.expect2xx(ctx, http.MethodDelete, sid, "")
}

func (c *rawClient) expect2xx(ctx context.Context, method, sid, body string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := c.request(ctx, method, sid, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: HTTP %d: %s", method, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// open initializes a session and sends notifications/initialized.
func (c *rawClient) open(ctx context.Context) (string, error) {
	sid, _, err := c.initialize(ctx)
	if err != nil {
		return "", err
	}
	if err := c.initialized(ctx, sid); err != nil {
		return "", err
	}
	return sid, nil
}

// readResponse returns the JSON-RPC message with the given id from a JSON
// or SSE response body.
func readResponse(resp *http.Response, id string) ([]byte, error) {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	var data []byte
	err := readAnswer(resp, func(b []byte) bool {
		if json.Unmarshal(b, &m) == nil && string(m.ID) == id {
			data = b
			return true
		}
		return false
	})
	return data, err
}

// readAnswer hands each JSON-RPC message of a JSON or SSE response body to
// done until done reports the one it waits for. The bytes are valid only
// during the call.
func readAnswer(resp *http.Response, done func([]byte) bool) error {
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		if !done(b) {
			return fmt.Errorf("the JSON answer is not the response: %s", b)
		}
		return nil
	}
	if !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(rest, []byte(" "))...)
			continue
		}
		if len(line) != 0 || len(data) == 0 {
			continue
		}
		if done(data) {
			return nil
		}
		data = data[:0]
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("SSE stream ended without the response")
}

// rawSession is one load worker's session spoken by hand: each call is one
// POST whose answer (JSON or SSE) is read to the response and checked.
type rawSession struct {
	c    *rawClient
	sid  string
	tool string // JSON, quoted
	next int64  // the JSON-RPC id of the next call
}

func openRawSession(ctx context.Context, hc *http.Client, url, tool string) (loadSession, error) {
	c := &rawClient{hc: hc, url: url}
	sid, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	name, _ := json.Marshal(tool)
	return &rawSession{c: c, sid: sid, tool: string(name), next: 2}, nil
}

// echoResult is the part of a tools/call answer the check reads.
type echoResult struct {
	ID     json.RawMessage `json:"id"`
	Result *struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *rawSession) call(ctx context.Context, text string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	id := strconv.FormatInt(s.next, 10)
	s.next++
	arg, _ := json.Marshal(text)
	body := `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":` + s.tool + `,"arguments":{"text":` + string(arg) + `}}}`
	req, err := s.c.request(ctx, http.MethodPost, s.sid, body)
	if err != nil {
		return err
	}
	resp, err := s.c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("tools/call: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	// One decoding per message: the one whose id is ours is the answer.
	var r echoResult
	var msg []byte
	err = readAnswer(resp, func(b []byte) bool {
		r = echoResult{}
		if json.Unmarshal(b, &r) == nil && string(r.ID) == id {
			msg = bytes.Clone(b)
			return true
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("tools/call: %w", err)
	}
	// Read to the end, so the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch {
	case r.Error != nil:
		return fmt.Errorf("tools/call: error %d: %s", r.Error.Code, r.Error.Message)
	case r.Result == nil:
		return fmt.Errorf("tools/call: no result in %s", msg)
	case r.Result.IsError:
		return fmt.Errorf("tool error: %s", msg)
	case len(r.Result.Content) != 1 || r.Result.Content[0].Type != "text":
		return fmt.Errorf("want one text content item, got %s", msg)
	case r.Result.Content[0].Text != text:
		return fmt.Errorf("echo mismatch: sent %q, got %q", text, r.Result.Content[0].Text)
	}
	return nil
}

func (s *rawSession) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.c.end(ctx, s.sid)
}
