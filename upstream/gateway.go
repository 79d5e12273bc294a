package upstream

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// GatewayError is the "data" member of the error responses the HTTP upstream
// makes up for a request the upstream server did not answer: the server
// could not be reached, timed out, failed with an HTTP status and no
// JSON-RPC answer, or ended the response stream without the response.
//
// What the client sees is public: the message says what happened in terms
// that name no URL, host, address or path (hosted servers keep keys in
// paths), and the correlation id names the log line with the detail
// (VerboseErrors puts the detail back into the message, for development).
//
// Status is the HTTP status a gateway answers for the case: 504 when the
// server did not answer in time, 502 for everything else. A front that
// answers such a request with a plain HTTP response (rather than on an
// already open stream) can use it; see GatewayStatus.
type GatewayError struct {
	pipeline.ErrorData
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
	if m == nil || m.Error == nil || !bytes.Contains(m.Error, []byte(`"correlation_id"`)) {
		return 0
	}
	var e struct {
		Data *GatewayError `json:"data"`
	}
	if json.Unmarshal(m.Error, &e) != nil || e.Data == nil || e.Data.CorrelationID == "" {
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
