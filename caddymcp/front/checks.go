package front

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// checkHostOrigin is the DNS-rebinding defence. On a loopback listener the
// Host must be a loopback name or an allowed host; an Origin, when present,
// must be loopback, the request's own host, or allowed. It returns "" when
// the request may proceed, else the reason for a 403.
func (s *Server) checkHostOrigin(r *http.Request) string {
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopbackAddr(local) {
		if !isLoopbackHost(hostOnly(r.Host)) && !s.hostAllowed(r.Host) {
			return "Host " + quoteForMessage(r.Host) + " is not allowed on a loopback listener (possible DNS rebinding); add it to allowed_hosts"
		}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	if slices.Contains(s.cfg.AllowedOrigins, "*") || slices.Contains(s.cfg.AllowedOrigins, origin) {
		return ""
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" {
		if isLoopbackHost(u.Hostname()) || strings.EqualFold(u.Host, r.Host) {
			return ""
		}
	}
	return "Origin " + quoteForMessage(origin) + " is not allowed; add it to allowed_origins"
}

func (s *Server) hostAllowed(host string) bool {
	for _, h := range s.cfg.AllowedHosts {
		if h == "*" || strings.EqualFold(h, host) || strings.EqualFold(h, hostOnly(host)) {
			return true
		}
	}
	return false
}

func isLoopbackAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackHost reports whether a host name (no port) names this machine.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// hostOnly strips a port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func quoteForMessage(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return "\"" + s + "\""
}

// accepts reports whether the Accept header admits every one of the media
// types. A missing header admits nothing: MCP clients must send it.
func accepts(r *http.Request, types ...string) bool {
	values := r.Header.Values("Accept")
	for _, want := range types {
		if !acceptsOne(values, want) {
			return false
		}
	}
	return true
}

func acceptsOne(values []string, want string) bool {
	major, _, _ := strings.Cut(want, "/")
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if mt == want || mt == "*/*" || mt == major+"/*" {
				return true
			}
		}
	}
	return false
}

// isJSONContent reports whether the request body is declared as JSON.
func isJSONContent(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
