package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParseBody decodes an HTTP POST body: one message, or (when batches are
// allowed, as in revision 2025-03-26) a JSON array of messages. batch reports
// whether the body was an array. The body is copied; the caller may reuse it.
func ParseBody(body []byte) (msgs []*Message, batch bool, err error) {
	return parseBody(body, protocolWatch)
}

// ParseBody is the package's ParseBody with w's refusals (as w.Parse).
func (w *Watch) ParseBody(body []byte) (msgs []*Message, batch bool, err error) {
	return parseBody(body, w.root())
}

func parseBody(body []byte, w *Watch) (msgs []*Message, batch bool, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, false, fmt.Errorf("%w: empty body", ErrParse)
	}
	if trimmed[0] != '[' {
		// The message and the list of one are one allocation: most
		// bodies are a single message.
		one := new(struct {
			m    Message
			list [1]*Message
		})
		if err := parseInto(&one.m, bytes.Clone(trimmed), w); err != nil {
			return nil, false, err
		}
		one.list[0] = &one.m
		return one.list[:], false, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(trimmed, &parts); err != nil {
		return nil, true, fmt.Errorf("%w: %v", ErrParse, err)
	}
	if len(parts) == 0 {
		return nil, true, fmt.Errorf("%w: empty batch", ErrInvalid)
	}
	msgs = make([]*Message, 0, len(parts))
	for i, p := range parts {
		m, err := w.Parse(p)
		if err != nil {
			return nil, true, fmt.Errorf("batch element %d: %w", i, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, true, nil
}
