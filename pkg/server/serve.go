package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dpsctl/dpsctl/pkg/store"
)

// Serving HTTPS on a listener, within bounds no client can stretch.

// Defaults of Options' serving limits.
const (
	// DefaultReadHeaderTimeout bounds the reading of a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request, body
	// included: 96 KB at 32 kbit/s, with room to spare.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds a request from the end of its headers to
	// the end of its answer: the body, a custom allocation webhook call
	// (WebhookTimeout) and the store's write fit in it.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout bounds how long a keep-alive connection waits for
	// its next request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxConnections bounds the connections served at once: past
	// it, new connections wait (in the kernel's accept queue) for one to
	// close. Slow or idle clients thus cannot take every file descriptor.
	DefaultMaxConnections = 4096
)

// Serve answers HTTPS on ln until ctx is cancelled, then shuts down
// gracefully (waiting up to shutdownTimeout for requests in flight) and
// returns nil. The listener's address is recorded as the last address.
//
// A client cannot hold the service: reading a request is bounded by
// Options.ReadHeaderTimeout and ReadTimeout, answering it by WriteTimeout,
// a keep-alive connection's wait by IdleTimeout, and Options.MaxConnections
// bounds the connections open at once, and with them the requests (the
// service speaks HTTP/1.1 only).
func (i *Instance) Serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	i.mu.Lock()
	i.addr = addr
	i.mu.Unlock()
	if err := i.st.SetMeta(ctx, store.MetaAddress, addr); err != nil {
		i.log.Warn("could not record the listen address", "err", err)
	}
	lim := i.limits
	h, err := i.h.throttled(i.throttle)
	if err != nil {
		return err
	}
	// HTTP/1.1 only: a connection then carries one request at a time, so
	// MaxConnections bounds the requests in flight too (HTTP/2 would let
	// each connection open hundreds of streams). DPS clients speak
	// HTTP/1.1; one that offers h2 falls back to it.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := &http.Server{
		Protocols:         &protocols,
		Handler:           h,
		TLSConfig:         i.TLSConfig(),
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(i.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln = limitConnections(ln, lim.maxConns)
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		i.log.Warn("graceful shutdown did not finish; closing connections", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

const shutdownTimeout = 5 * time.Second

// serveLimits are the timeouts and the connection bound of Serve.
type serveLimits struct {
	readHeader, read, write, idle time.Duration
	maxConns                      int
}

func newServeLimits(opts Options) serveLimits {
	or := func(d, def time.Duration) time.Duration {
		if d == 0 {
			return def
		}
		return d
	}
	l := serveLimits{
		readHeader: or(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		read:       or(opts.ReadTimeout, DefaultReadTimeout),
		write:      or(opts.WriteTimeout, DefaultWriteTimeout),
		idle:       or(opts.IdleTimeout, DefaultIdleTimeout),
		maxConns:   opts.MaxConnections,
	}
	if l.maxConns == 0 {
		l.maxConns = DefaultMaxConnections
	}
	return l
}
