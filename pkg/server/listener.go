package server

import (
	"net"
	"sync"
)

// limitListener accepts at most cap(sem) connections at a time: Accept
// waits, while that many are open, for one of them to close (new
// connections wait in the kernel's accept queue meanwhile).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// limitConnections returns ln limited to n open connections; n < 1 means
// no limit.
func limitConnections(ln net.Listener, n int) net.Listener {
	if n < 1 {
		return ln
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, l: l}, nil
}

// Close closes the listener; an Accept waiting for room returns.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its room back once, when first closed.
type limitConn struct {
	net.Conn
	l        *limitListener
	released sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.released.Do(func() { <-c.l.sem })
	return err
}
