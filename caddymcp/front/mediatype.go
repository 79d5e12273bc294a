package front

import (
	"errors"
	"mime"
	"strings"
)

// errMediaType is mediaType's error for a media type without parameters
// that mime.ParseMediaType would refuse.
var errMediaType = errors.New("mime: invalid media type")

// mediaType is mime.ParseMediaType with a fast path for a media type
// without parameters, which every request's Accept and Content-Type
// usually are ("application/json, text/event-stream"): the parameters map
// and the lower-cased copy ParseMediaType makes each time are most of the
// front's header parsing per call. The result is the same as
// ParseMediaType's; only the error text may differ.
func mediaType(v string) (mt string, params map[string]string, err error) {
	if strings.IndexByte(v, ';') >= 0 {
		return mime.ParseMediaType(v)
	}
	mt = strings.ToLower(strings.TrimSpace(v)) // no copy when already lower case
	typ, sub, slash := strings.Cut(mt, "/")
	if !isToken(typ) || slash && !isToken(sub) {
		return "", nil, errMediaType
	}
	return mt, nil, nil
}

// isToken reports whether s is an RFC 1521 token, as package mime judges
// one.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}
