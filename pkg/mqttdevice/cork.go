package mqttdevice

import (
	"net"
	"sync"
	"time"
)

const (
	// corkMax bounds what a corkConn holds before it writes.
	corkMax = 32 << 10
	// corkCloseFlush bounds the last write when the connection closes.
	corkCloseFlush = 250 * time.Millisecond
)

// corkConn is the TCP connection under a registration's TLS. It holds what
// is written until the next read, and sends it in one write then: the TLS
// Finished with the CONNECT and SUBSCRIBE that follow it, and the last
// PUBACK and DISCONNECT with the TLS close_notify. A registration only ever
// writes and then waits for the answer, so nothing waits in the buffer
// while the device waits; each write saved is a system call and a wake-up
// on both ends.
type corkConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
	err error // the first failed write; the connection is done
}

func newCorkConn(c net.Conn) *corkConn { return &corkConn{Conn: c} }

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if len(c.buf)+len(p) > corkMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > corkMax {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *corkConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.flushLocked()
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *corkConn) flushLocked() error {
	if c.err != nil || len(c.buf) == 0 {
		return c.err
	}
	_, c.err = c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return c.err
}

// Close sends what is held, waiting at most corkCloseFlush for a service
// that does not read, then closes. The TLS layer above has set the write
// deadline to now by then (after its close_notify), so the flush has a
// deadline of its own.
func (c *corkConn) Close() error {
	c.mu.Lock()
	if c.err == nil && len(c.buf) > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(corkCloseFlush))
		_ = c.flushLocked()
	}
	c.err = net.ErrClosed
	c.mu.Unlock()
	return c.Conn.Close()
}
