package dps

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
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
//
// The transport is built field by field with the settings of
// http.DefaultTransport rather than cloned from it: cloning first sets up
// the default transport's HTTP/2, work a one-shot CLI process would throw
// away.
func NewTransport(tlsConfig *tls.Config) *http.Transport {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     false,
		// A non-nil empty map turns HTTP/2 off even if TLSNextProto is
		// consulted by a later Go release.
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:        MaxConnsPerHost,
		MaxIdleConnsPerHost: MaxConnsPerHost,
		WriteBufferSize:     32 << 10,
	}
}
