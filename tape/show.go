package tape

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// ShowWidth bounds the message body shown on a transcript line.
const ShowWidth = 120

// Show writes a readable transcript of f: the header, then a line per
// message with its time, an arrow (→ toward the server, ← toward the
// client), what it is (method and tool, or the answer to which id), a
// truncated body and what the pipeline did when it did anything.
func Show(w io.Writer, f *File) error {
	h := f.Header
	fmt.Fprintf(w, "tape %s (format %d, %d part(s))\n", f.Name, h.Tape, f.Parts)
	fmt.Fprintf(w, "  endpoint %s, upstream %s, protocol %s, user %s, started %s\n",
		orDash(h.Endpoint), orDash(h.Upstream), orDash(h.ProtocolVersion), orDash(h.User), h.Start.UTC().Format("2006-01-02T15:04:05.000Z"))
	for _, r := range f.Records {
		arrow := "→"
		if r.Dir == ServerToClient {
			arrow = "←"
		}
		what, body := describe(r.Msg)
		line := fmt.Sprintf("%9.3fs %s %-28s %s", r.Offset().Seconds(), arrow, what, truncate(body, ShowWidth))
		if r.Pipeline.Action != "" && r.Pipeline.Action != Passed {
			line += "  [" + r.Pipeline.Action
			if r.Pipeline.Stage != "" {
				line += " by " + r.Pipeline.Stage
			}
			if r.Pipeline.Ended != "" {
				line += ", " + r.Pipeline.Ended
			}
			line += "]"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	if f.Truncated {
		fmt.Fprintln(w, "  (the tape ends in an unterminated line, ignored: written until a crash)")
	}
	return nil
}

// describe names a message (method and tool, or "result #id") and returns
// the body worth showing (params, result or error).
func describe(msg json.RawMessage) (what string, body string) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return "?", string(msg)
	}
	switch {
	case m.Method != "":
		what = m.Method
		var p struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if p.Name != "" && (m.Method == "tools/call" || m.Method == "prompts/get") {
			what += " " + p.Name
		}
		if m.ID != nil {
			what += " #" + string(m.ID)
		}
		return what, string(m.Params)
	case m.Error != nil:
		return "error #" + string(m.ID), string(m.Error)
	default:
		return "result #" + string(m.ID), string(m.Result)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + fmt.Sprint(len(s)) + " bytes)"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
