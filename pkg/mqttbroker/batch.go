package mqttbroker

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

const (
	// batchMax bounds what a batchConn holds before it writes.
	batchMax = 16 << 10
	// closeFlush bounds the last write when a connection closes.
	closeFlush = time.Second
)

// batchConn gathers what the broker writes while it handles the packets it
// has read, and sends it in one write, one TLS record or WebSocket message,
// when the broker goes back to reading. Handling a request writes two
// packets or more (a DPS answer and the PUBACK of the request; the PUBACKs
// of a burst of telemetry), and each write is a system call on both ends.
// While the read loop waits for the device, writes from elsewhere (cloud-to-
// device messages, method calls) go out at once, as before.
type batchConn struct {
	net.Conn
	mu      sync.Mutex
	waiting bool // the read loop is blocked in Read
	buf     []byte
	err     error // the first failed flush; the connection is done
}

func newBatchConn(c net.Conn) *batchConn { return &batchConn{Conn: c} }

func (c *batchConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.flushLocked()
	c.waiting = err == nil
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.waiting = false
	c.mu.Unlock()
	return n, err
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.waiting || len(c.buf)+len(p) > batchMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if c.waiting || len(p) > batchMax {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *batchConn) flushLocked() error {
	if c.err != nil || len(c.buf) == 0 {
		return c.err
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	if cap(c.buf) > batchMax {
		c.buf = nil
	}
	c.err = err
	return err
}

// Close sends what is held (a CONNACK refusing the device, the answer
// before a DISCONNECT), waiting at most closeFlush for a device that does
// not read, then closes.
func (c *batchConn) Close() error {
	c.mu.Lock()
	if len(c.buf) > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlush))
		_ = c.flushLocked()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// ConnectionState is the TLS state of the connection underneath, for the
// device's certificate.
func (c *batchConn) ConnectionState() tls.ConnectionState {
	if cs, ok := c.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return cs.ConnectionState()
	}
	return tls.ConnectionState{}
}
