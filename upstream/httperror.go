package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// GatewayError is the "data" member of the error responses the HTTP upstream
// makes up for a request the upstream server did not answer: the server
// could not be reached, timed out, failed with an HTTP status and no
// JSON-RPC answer, or ended the response stream without the response.
//
// Status is the HTTP status a gateway answers for the case: 504 when the
// server did not answer in time, 502 for everything else. A front that
// answers such a request with a plain HTTP response (rather than on an
// already open stream) can use it; see GatewayStatus.
type GatewayError struct {
	// Upstream is the upstream's URL.
	Upstream string `json:"upstream"`
	// Status is 502 (Bad Gateway) or 504 (Gateway Timeout).
	Status int `json:"status"`
	// UpstreamStatus is the HTTP status of the server's answer to the POST, if
	// it answered (a later failure, such as a refused resume, is in the message).
	UpstreamStatus int `json:"upstreamStatus,omitempty"`
}

// GatewayStatus returns the HTTP status a reverse proxy would answer in
// place of the upstream for an error response the HTTP upstream made up:
// 502 or 504 when the upstream gave no usable HTTP answer (no connection, no
// headers in time, a status other than 2xx). It returns 0 when the upstream
// answered 2xx and the exchange went wrong after that (a stream cut before
// the response: the upstream itself said OK, so the client gets OK and the
// JSON-RPC error), and for every other message.
func GatewayStatus(m *pipeline.Message) int {
	if m == nil || m.Error == nil || !bytes.Contains(m.Error, []byte(`"upstream"`)) {
		return 0
	}
	var e struct {
		Data *GatewayError `json:"data"`
	}
	if json.Unmarshal(m.Error, &e) != nil || e.Data == nil || e.Data.Upstream == "" {
		return 0
	}
	if e.Data.Status != http.StatusBadGateway && e.Data.Status != http.StatusGatewayTimeout {
		return 0
	}
	if e.Data.UpstreamStatus >= 200 && e.Data.UpstreamStatus < 300 {
		return 0
	}
	return e.Data.Status
}

// exchangeError is a failed exchange with the upstream server.
type exchangeError struct {
	upstream       string
	status         int // 502 or 504
	upstreamStatus int // the server's HTTP status, 0 if none
	code           int // the JSON-RPC error code
	msg            string
}

// Error says which upstream failed and how.
func (e *exchangeError) Error() string {
	return "upstream MCP server " + e.upstream + ": " + e.msg
}

// response builds the error response to the client request id.
func (e *exchangeError) response(id json.RawMessage) *pipeline.Message {
	obj, _ := json.Marshal(struct {
		Code    int          `json:"code"`
		Message string       `json:"message"`
		Data    GatewayError `json:"data"`
	}{e.code, e.Error(), GatewayError{Upstream: e.upstream, Status: e.status, UpstreamStatus: e.upstreamStatus}})
	raw := make([]byte, 0, 40+len(id)+len(obj))
	raw = append(raw, `{"jsonrpc":"2.0","id":`...)
	raw = append(raw, id...)
	raw = append(raw, `,"error":`...)
	raw = append(raw, obj...)
	raw = append(raw, '}')
	return &pipeline.Message{Raw: raw, Kind: pipeline.KindResponse, ID: id, Error: obj}
}

func (c *httpConn) badGateway(format string, args ...any) *exchangeError {
	return &exchangeError{upstream: c.h.name, status: http.StatusBadGateway,
		code: pipeline.CodeInternalError, msg: fmt.Sprintf(format, args...)}
}

func (c *httpConn) gatewayTimeout(format string, args ...any) *exchangeError {
	return &exchangeError{upstream: c.h.name, status: http.StatusGatewayTimeout,
		code: pipeline.CodeRequestTimeout, msg: fmt.Sprintf(format, args...)}
}

// transportError describes an error of http.Client.Do: the request failed
// before any response headers arrived.
func (c *httpConn) transportError(ctx context.Context, err error) *exchangeError {
	if errors.Is(context.Cause(ctx), errNoHeaders) {
		return c.gatewayTimeout("no response headers within %s", c.h.cfg.ResponseHeaderTimeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // drop the `Post "https://…":` prefix: the URL is named once
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return c.gatewayTimeout("%v", err)
	}
	return c.badGateway("%v", err)
}

// streamError describes the end of a response stream before the response.
func (c *httpConn) streamError(err error, cause error) *exchangeError {
	switch {
	case errors.Is(cause, errIdle):
		return c.gatewayTimeout("the response stream sent nothing for %s before the response", c.h.cfg.IdleTimeout)
	case err == nil || errors.Is(err, io.EOF):
		return c.badGateway("the response stream ended before the response")
	default:
		return c.badGateway("the response stream broke before the response: %v", err)
	}
}

// statusError describes a response with a failure status and no JSON-RPC
// answer for the request. body is the start of the response body.
func (c *httpConn) statusError(resp *http.Response, body []byte) *exchangeError {
	e := c.badGateway("%s", resp.Status)
	e.upstreamStatus = resp.StatusCode
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		if loc, err := resp.Location(); err == nil {
			e.msg += " to " + loc.String() + "; configure the upstream with that URL"
		}
		return e
	case resp.StatusCode == http.StatusNotFound:
		e.msg += " (is the URL the server's MCP endpoint?)"
	}
	if detail := bodyDetail(body); detail != "" {
		e.msg += ": " + detail
	}
	return e
}

// bodyDetail extracts what a failure response body says: a JSON-RPC error's
// message, or the start of a text body.
func bodyDetail(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	if body[0] == '{' {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return e.Error.Message
		}
	}
	const maxDetail = 200
	if len(body) > maxDetail {
		body = body[:maxDetail]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if !utf8.ValidString(s) {
		return ""
	}
	return s
}
