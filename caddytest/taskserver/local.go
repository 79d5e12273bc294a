package main

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
)

// localTools are the pages of a -cursors tools/list, one tool each.
var localTools = []string{"slow", "ask", "hold"}

// newSecret is a -cursors local process's own secret.
func newSecret() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// localPage answers a -cursors tools/list: the page cursor names, whose
// cursor must be this process's ("<secret>.<page>").
func (s *server) localPage(cursor string) (any, *rpcError) {
	n := 1
	if cursor != "" {
		page, ok := strings.CutPrefix(cursor, s.secret+".")
		var err error
		if n, err = strconv.Atoi(page); !ok || err != nil || n < 1 || n > len(localTools) {
			return nil, &rpcError{-32602, "invalid cursor"}
		}
	}
	out := map[string]any{"tools": []any{map[string]any{"name": localTools[n-1], "inputSchema": map[string]string{"type": "object"}}}}
	if n < len(localTools) {
		out["nextCursor"] = s.secret + "." + strconv.Itoa(n+1)
	}
	return out, nil
}

// ask answers -cursors's tool "ask": input_required with this process's
// secret as requestState, then the result to the retry that brings it.
func (s *server) ask(state string) (any, *rpcError) {
	switch state {
	case "":
		return map[string]any{"resultType": "input_required", "requestState": s.secret,
			"inputRequests": map[string]any{"name": map[string]any{"method": "elicitation/create", "params": map[string]any{
				"message": "Your name?", "requestedSchema": map[string]any{"type": "object", "properties": map[string]any{"name": map[string]string{"type": "string"}}}}}}}, nil
	case s.secret:
		return map[string]any{"resultType": "complete", "content": []any{map[string]string{"type": "text", "text": "answered by " + s.name}}}, nil
	}
	return nil, &rpcError{-32602, "invalid requestState"}
}
