package front

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// checkHostOrigin is the DNS-rebinding and cross-site defence. The Host
// must be a loopback name or an allowed host on a loopback listener, and on
// every listener once allowed_hosts is set (a container behind a loopback
// port mapping listens on a non-loopback address, yet is as reachable from a
// browser on the host as a loopback listener). An Origin, when present, must
// be loopback, the request's own host, or allowed; a request the browser
// marks cross-site (Sec-Fetch-Site) must carry such an Origin, since an
// <img> or a no-cors fetch sends none. It returns "" when the request may
// proceed, else the reason for a 403.
func (s *Server) checkHostOrigin(r *http.Request) string {
	if len(s.cfg.AllowedHosts) > 0 {
		if !isLoopbackHost(hostOnly(r.Host)) && !s.hostAllowed(r.Host) {
			return "Host " + quoteForMessage(r.Host) + " is not allowed (possible DNS rebinding); add it to allowed_hosts"
		}
	} else if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopbackAddr(local) {
		if !isLoopbackHost(hostOnly(r.Host)) {
			return "Host " + quoteForMessage(r.Host) + " is not allowed on a loopback listener (possible DNS rebinding); add it to allowed_hosts"
		}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
			return "a cross-site request (Sec-Fetch-Site: cross-site) must carry an allowed Origin; add the page's origin to allowed_origins"
		}
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
// types, wildcards included (HTTP's rule, which POST follows: a POST needs a
// JSON Content-Type, which no cross-site page can send without a CORS
// preflight). A missing header admits nothing: MCP clients must send it. A
// type listed with q=0 is refused.
func accepts(r *http.Request, types ...string) bool {
	values := r.Header.Values("Accept")
	for _, want := range types {
		if !acceptsOne(values, want, false) {
			return false
		}
	}
	return true
}

// acceptsListed reports whether the Accept header lists the media type by
// name. A GET that opens a stream needs text/event-stream listed: browsers
// send "*/*" or "text/*" for an <img>, a <script> or a plain fetch, which
// must not open a session's stream.
func acceptsListed(r *http.Request, want string) bool {
	return acceptsOne(r.Header.Values("Accept"), want, true)
}

// acceptsOne applies HTTP's precedence: the most specific range that
// matches want decides (RFC 9110 §12.5.1), so "*/*, application/json;q=0"
// refuses JSON. With exact, only the type named by itself counts.
func acceptsOne(values []string, want string, exact bool) bool {
	major, _, _ := strings.Cut(want, "/")
	best, ok := 0, false // specificity of the best match: 3 exact, 2 major/*, 1 */*
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			rank := 0
			switch {
			case mt == want:
				rank = 3
			case exact:
			case mt == major+"/*":
				rank = 2
			case mt == "*/*":
				rank = 1
			}
			if rank > best || rank == best && rank > 0 && refused(params["q"]) {
				best, ok = rank, !refused(params["q"])
			}
		}
	}
	return ok
}

// refused reports whether an Accept q parameter is zero ("not acceptable").
func refused(q string) bool {
	if q == "" {
		return false
	}
	f, err := strconv.ParseFloat(q, 64)
	return err == nil && f == 0
}

// isJSONContent reports whether the request body is declared as JSON.
func isJSONContent(r *http.Request) bool {
	mt, _, err := mediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
