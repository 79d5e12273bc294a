package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// exchangeError is a failed exchange with the upstream server.
type exchangeError struct {
	upstream       string
	status         int // 502 or 504
	upstreamStatus int // the server's HTTP status, 0 if none
	code           int // the JSON-RPC error code
	msg            string
	// public is what the client may read of msg: a cause that names no URL,
	// host, address or path. "" means a generic wording of status.
	public  string
	logger  *zap.Logger
	verbose bool // VerboseErrors: the client reads msg
}

// Error says which upstream failed and how (for logs).
func (e *exchangeError) Error() string {
	return "upstream MCP server " + e.upstream + ": " + e.msg
}

// clientMessage is what the client reads.
func (e *exchangeError) clientMessage() string {
	if e.verbose {
		return e.Error()
	}
	cause := e.public
	if cause == "" {
		cause = "it failed to answer"
		if e.status == http.StatusGatewayTimeout {
			cause = "it did not answer in time"
		}
	}
	return "upstream MCP server: " + cause + " (the gateway's log has the detail under the correlation_id)"
}

// response builds the error response to the client request id, and logs
// the detail under the correlation id the response carries.
func (e *exchangeError) response(id json.RawMessage) *pipeline.Message {
	data := upstream.GatewayError{ErrorData: pipeline.NewErrorData(), Status: e.status, UpstreamStatus: e.upstreamStatus}
	if e.logger != nil {
		// The logger names the upstream already (HTTP.logger's "upstream").
		e.logger.Warn("a request to the upstream MCP server failed",
			zap.String("correlation_id", data.CorrelationID),
			zap.String("detail", e.msg), zap.Int("status", e.status), zap.ByteString("id", id))
	}
	return pipeline.NewErrorWithData(id, e.code, e.clientMessage(), data)
}

func (c *httpConn) badGateway(format string, args ...any) *exchangeError {
	return &exchangeError{upstream: c.h.name, status: http.StatusBadGateway, logger: c.logger, verbose: c.h.cfg.VerboseErrors,
		code: pipeline.CodeInternalError, msg: fmt.Sprintf(format, args...)}
}

func (c *httpConn) gatewayTimeout(format string, args ...any) *exchangeError {
	return &exchangeError{upstream: c.h.name, status: http.StatusGatewayTimeout, logger: c.logger, verbose: c.h.cfg.VerboseErrors,
		code: pipeline.CodeRequestTimeout, msg: fmt.Sprintf(format, args...)}
}

// withPublic sets the cause the client may read.
func (e *exchangeError) withPublic(public string) *exchangeError {
	e.public = public
	return e
}

// transportError describes an error of http.Client.Do: the request failed
// before any response headers arrived.
func (c *httpConn) transportError(ctx context.Context, err error) *exchangeError {
	if errors.Is(context.Cause(ctx), errNoHeaders) {
		e := c.gatewayTimeout("no response headers within %s", c.h.cfg.ResponseHeaderTimeout)
		return e.withPublic(e.msg)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // drop the `Post "https://…":` prefix: the URL is named once
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return c.gatewayTimeout("%v", err).withPublic("it could not be reached (" + connectCause(err) + ")")
	}
	return c.badGateway("%v", err).withPublic("it could not be reached (" + connectCause(err) + ")")
}

// streamError describes the end of a response stream before the response.
func (c *httpConn) streamError(err error, cause error) *exchangeError {
	switch {
	case errors.Is(cause, errIdle):
		e := c.gatewayTimeout("the response stream sent nothing for %s before the response", c.h.cfg.IdleTimeout)
		return e.withPublic(e.msg)
	case err == nil || errors.Is(err, io.EOF):
		e := c.badGateway("the response stream ended before the response")
		return e.withPublic(e.msg)
	default:
		return c.badGateway("the response stream broke before the response: %v", err).
			withPublic("the response stream broke before the response (" + connectCause(err) + ")")
	}
}

// statusError describes a response with a failure status and no JSON-RPC
// answer for the request. body is the start of the response body.
func (c *httpConn) statusError(resp *http.Response, body []byte) *exchangeError {
	e := c.badGateway("%s", resp.Status)
	e.upstreamStatus = resp.StatusCode
	e.public = "it answered " + statusText(resp)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		if loc, err := resp.Location(); err == nil {
			e.msg += " to " + loc.String() + "; configure the upstream with that URL"
		}
		e.public += ", a redirect the gateway does not follow"
		return e
	case resp.StatusCode == http.StatusNotFound:
		e.msg += " (is the URL the server's MCP endpoint?)"
		e.public += " (is the configured URL the server's MCP endpoint?)"
	}
	if detail := bodyDetail(body); detail != "" {
		e.msg += ": " + detail
	}
	return e
}

// statusText is the status line of resp, as "404 Not Found", made of the
// code and the standard text only (a server's own reason phrase is not
// passed on).
func statusText(resp *http.Response) string {
	return strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
}

// publicCauser is an error of a wrapping RoundTripper (Config.Transport)
// that says itself what a client may read of it, such as the gateway
// failing to obtain its own credentials for the upstream. The text must
// name no URL, host or address.
type publicCauser interface {
	error
	PublicCause() string
}

// connectCause names a transport failure in words that carry no address,
// host name or URL: what a client may read of it.
func connectCause(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		hostErr x509.HostnameError
		authErr x509.UnknownAuthorityError
		invErr  x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
		nerr    net.Error
		pub     publicCauser
	)
	switch {
	case errors.As(err, &pub):
		return pub.PublicCause()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the host"
	case errors.As(err, &dnsErr):
		return "the host name did not resolve"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &invErr):
		return "TLS certificate error"
	case errors.As(err, &recErr):
		return "TLS handshake failed (is the upstream's scheme right?)"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed"
	}
	// Some transports (Caddy's among them) wrap the dial error as text
	// only: name the cause by its words, which carry no address.
	text := err.Error()
	for _, phrase := range []struct{ in, cause string }{
		{"connection refused", "connection refused"},
		{"connection reset", "connection reset"},
		{"no such host", "the host name did not resolve"},
		{"certificate", "TLS certificate error"},
		{"i/o timeout", "timed out"},
	} {
		if strings.Contains(text, phrase.in) {
			return phrase.cause
		}
	}
	return "connection failed"
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
