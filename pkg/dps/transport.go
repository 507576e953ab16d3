package dps

import (
	"crypto/tls"
	"net/http"
)

// MaxConnsPerHost bounds the connections NewTransport keeps open to one
// service: enough for the most bulk calls an import keeps in flight.
const MaxConnsPerHost = 64

// NewTransport returns the HTTP transport the client is meant to run on:
// HTTP/1.1 over TLS (tlsConfig; nil means the system roots) with keep-alive
// connections, one per request in flight, kept idle between calls.
//
// HTTP/1.1 rather than HTTP/2: the service API is request/response with
// small bodies, and the calls of a bulk import are independent. Over one
// HTTP/2 connection every call costs a stream goroutine on each side and
// the frames of all calls funnel through one writer, which on a small
// machine costs more CPU than separate connections do. The write buffer
// holds a whole bulk call (headers and body), so each request leaves in
// one TLS record and one system call.
func NewTransport(tlsConfig *tls.Config) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig = tlsConfig
	tr.ForceAttemptHTTP2 = false
	// A non-nil empty map turns HTTP/2 off even if TLSNextProto is
	// consulted by a later Go release.
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.MaxIdleConns = MaxConnsPerHost
	tr.MaxIdleConnsPerHost = MaxConnsPerHost
	tr.WriteBufferSize = 32 << 10
	return tr
}
