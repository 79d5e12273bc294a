package federate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
)

// errCursor is a cursor the gateway did not make (or no longer can use).
var errCursor = errors.New("invalid cursor")

// cursorState is what the gateway's cursor holds: the server whose page
// comes next, by name (stable across reloads that reorder servers), and
// that server's own cursor of the page ("" for its first).
type cursorState struct {
	Server string `json:"s"`
	Cursor string `json:"c,omitempty"`
}

// encodeCursor makes the gateway's opaque cursor. It is the one place a
// cursor is made, so that it can be sealed (signed) later in one place.
func encodeCursor(server, cursor string) string {
	b, _ := json.Marshal(cursorState{Server: server, Cursor: cursor})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor encodeCursor made.
func decodeCursor(s string) (server, cursor string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", "", errCursor
	}
	var st cursorState
	if json.Unmarshal(b, &st) != nil || st.Server == "" {
		return "", "", errCursor
	}
	return st.Server, st.Cursor, nil
}
