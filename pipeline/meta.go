package pipeline

import (
	"bytes"
	"encoding/json"
)

// ProgressToken returns the raw `params._meta.progressToken` of a request,
// or nil. It decodes params only when the bytes mention the key.
func (m *Message) ProgressToken() json.RawMessage {
	if !bytes.Contains(m.Params, []byte(`"progressToken"`)) {
		return nil
	}
	var p struct {
		Meta struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return nil
	}
	return p.Meta.ProgressToken
}

// NotificationProgressToken returns `params.progressToken` of a
// notifications/progress message, or nil.
func (m *Message) NotificationProgressToken() json.RawMessage {
	var p struct {
		ProgressToken json.RawMessage `json:"progressToken"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return nil
	}
	return p.ProgressToken
}

// CancelledRequestID returns `params.requestId` of a notifications/cancelled
// message, or nil.
func (m *Message) CancelledRequestID() json.RawMessage {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return nil
	}
	return p.RequestID
}

// MetaProtocolVersion returns `params._meta["io.modelcontextprotocol/protocolVersion"]`,
// which marks a 2026-07-28 (stateless) request, or "".
func (m *Message) MetaProtocolVersion() string {
	const key = `"io.modelcontextprotocol/protocolVersion"`
	if !bytes.Contains(m.Params, []byte(key)) {
		return ""
	}
	var p struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return ""
	}
	var v string
	_ = json.Unmarshal(p.Meta["io.modelcontextprotocol/protocolVersion"], &v)
	return v
}

// ResultProtocolVersion returns `result.protocolVersion` of an initialize
// response, or "".
func (m *Message) ResultProtocolVersion() string {
	var r struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(m.Result, &r) != nil {
		return ""
	}
	return r.ProtocolVersion
}

// ParamsProtocolVersion returns `params.protocolVersion` of an initialize
// request, or "".
func (m *Message) ParamsProtocolVersion() string {
	var p struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return ""
	}
	return p.ProtocolVersion
}
