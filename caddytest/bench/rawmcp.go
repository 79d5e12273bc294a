package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	if !strings.HasPrefix(ct, "text/event-stream") {
		return nil, fmt.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(rest, " ")...)
			continue
		}
		if line != "" || len(data) == 0 {
			continue
		}
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(data, &m) == nil && string(m.ID) == id {
			return data, nil
		}
		data = nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("SSE stream ended without the response")
}
