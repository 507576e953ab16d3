package mqttbroker

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// wsListener is the broker's listener of WebSocket connections: it has no
// socket of its own, WebSocketHandler hands it the upgraded connections.
type wsListener struct {
	mu        sync.Mutex
	establish listeners.EstablishFn
	ready     chan struct{} // closed once Serve has the broker's establish function
	readyOnce sync.Once
	done      chan struct{}
	once      sync.Once
}

func newWSListener() *wsListener {
	return &wsListener{ready: make(chan struct{}), done: make(chan struct{})}
}

func (l *wsListener) ID() string              { return "wss" }
func (l *wsListener) Address() string         { return WebSocketPath }
func (l *wsListener) Protocol() string        { return "wss" }
func (l *wsListener) Init(*slog.Logger) error { return nil }

// Serve runs in a goroutine of the broker's own (as every listener's
// Serve does), so Broker.Start waits for ready before it returns.
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	select {
	case <-l.done: // closed before it ran
	default:
		l.establish = establish
	}
	l.mu.Unlock()
	l.readyOnce.Do(func() { close(l.ready) })
	<-l.done
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.once.Do(func() {
		l.mu.Lock()
		l.establish = nil
		l.mu.Unlock()
		close(l.done)
		closeClients(l.ID())
	})
}

func (l *wsListener) get() listeners.EstablishFn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.establish
}

// WebSocketHandler serves MQTT over WebSockets (subprotocol "mqtt"), to be
// mounted at WebSocketPath on the HTTPS listener. The client certificate
// of the TLS connection, if any, is the connection's X.509 credential, so
// the HTTPS server should request client certificates without requiring
// them.
func (b *Broker) WebSocketHandler() http.Handler {
	up := websocket.Upgrader{
		Subprotocols:    []string{"mqtt"},
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Devices send no Origin; a browser page cannot present a
		// device's credentials on its own anyway.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(websocket.Subprotocols(r), "mqtt") {
			http.Error(w, `MQTT over WebSockets needs the subprotocol "mqtt"`, http.StatusBadRequest)
			return
		}
		establish := b.ws.get()
		if establish == nil {
			http.Error(w, "the MQTT broker is not running", http.StatusServiceUnavailable)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered
		}
		c.SetReadLimit(maxPacket + 16)
		b.serveConn(establish, b.ws.ID(), &wsConn{Conn: c.UnderlyingConn(), c: c, tls: r.TLS})
	})
}

// tlsListener accepts the connections of a net.Listener (TLS) for the
// broker, each with serveConn's bounds.
type tlsListener struct {
	b      *Broker
	l      net.Listener
	once   sync.Once
	closed atomic.Bool
}

func (l *tlsListener) ID() string              { return "mqtts" }
func (l *tlsListener) Address() string         { return l.l.Addr().String() }
func (l *tlsListener) Protocol() string        { return "mqtts" }
func (l *tlsListener) Init(*slog.Logger) error { return nil }

func (l *tlsListener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.l.Accept()
		if errors.Is(err, net.ErrClosed) || l.closed.Load() {
			return
		}
		if err != nil {
			// Out of descriptors, say: the listener stays, the
			// connection goes.
			l.b.opts.Logger.Warn("accept", "error", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go l.b.serveConn(establish, l.ID(), c)
	}
}

func (l *tlsListener) Close(closeClients listeners.CloseFn) {
	l.once.Do(func() {
		l.closed.Store(true)
		_ = l.l.Close()
		closeClients(l.ID())
	})
}

var errNotBinary = errors.New("MQTT over WebSockets takes binary messages only")

// wsConn is a WebSocket connection as a byte stream, for the broker.
type wsConn struct {
	net.Conn // the hijacked connection: addresses and deadlines
	c        *websocket.Conn
	r        io.Reader
	tls      *tls.ConnectionState
}

func (w *wsConn) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			op, r, err := w.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errNotBinary
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if err == io.EOF {
			w.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Write sends p as one binary message; the broker writes one packet at a
// time under the client's lock.
func (w *wsConn) Write(p []byte) (int, error) {
	if err := w.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *wsConn) Close() error { return w.c.Close() }

// ConnectionState is the TLS state of the HTTPS request, for the client
// certificate.
func (w *wsConn) ConnectionState() tls.ConnectionState {
	if w.tls == nil {
		return tls.ConnectionState{}
	}
	return *w.tls
}
