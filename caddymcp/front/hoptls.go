package front

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// HopTLS is how this instance checks the certificate of another
// instance's https node_url: the cluster's node_trust_pool and
// node_server_name. The zero HopTLS checks it against the system's roots
// and the node_url's host, as any https client does.
type HopTLS struct {
	// RootCAs are the certificates the instances' certificates are
	// checked against; nil: the system's.
	RootCAs *x509.CertPool
	// ServerName is the name the instances' certificates are checked for
	// (and sent as SNI); "": the node_url's host.
	ServerName string
}

func (t HopTLS) zero() bool { return t.RootCAs == nil && t.ServerName == "" }

func (t HopTLS) equal(o HopTLS) bool {
	return t.ServerName == o.ServerName && t.RootCAs.Equal(o.RootCAs)
}

// maxHopTLS bounds the transports kept for TLS settings other than the
// default: each reload may bring a new pool, and each kept transport holds
// its own idle connections. Beyond it the least recently made goes.
const maxHopTLS = 8

// hopTLSTransport is a transport for one HopTLS.
type hopTLSTransport struct {
	tls HopTLS
	tr  *http.Transport
}

// tlsTransport returns the transport that checks an https owner's
// certificate with t: the default one for the zero HopTLS, else one made
// for t and kept while the process runs (configurations that agree on t,
// across endpoints and reloads, share its connections).
func (h *Hops) tlsTransport(t HopTLS) *http.Transport {
	if t.zero() {
		return h.transport
	}
	h.mu.Lock()
	for _, v := range h.tlsVariants {
		if v.tls.equal(t) {
			h.mu.Unlock()
			return v.tr
		}
	}
	tr := h.transport.Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: t.RootCAs, ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	var evicted *http.Transport
	if len(h.tlsVariants) == maxHopTLS {
		evicted = h.tlsVariants[0].tr
		h.tlsVariants = append(h.tlsVariants[:0], h.tlsVariants[1:]...)
	}
	h.tlsVariants = append(h.tlsVariants, hopTLSTransport{tls: t, tr: tr})
	h.mu.Unlock()
	if evicted != nil {
		// Hops under way on it go on; its idle connections close.
		evicted.CloseIdleConnections()
	}
	return tr
}
