package resolver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Transport defaults.
const (
	// DefaultTimeout bounds one exchange when TransportConfig.Timeout is zero.
	DefaultTimeout = 2 * time.Second
	// DefaultBufSize is the EDNS0 UDP payload size we advertise: 1232 bytes
	// fits an IPv6 minimum MTU of 1280 without fragmentation (DNS Flag Day
	// 2020).
	DefaultBufSize = 1232

	// tlsMaxIdle is how many idle DoT connections are kept per server.
	tlsMaxIdle = 2
	// tlsIdleTimeout is how long an idle DoT connection is kept. Servers
	// close idle connections after a few seconds to tens of seconds
	// (RFC 7766 section 6.2.3, RFC 7858 section 3.4); one they closed is
	// noticed on use and replaced.
	tlsIdleTimeout = 10 * time.Second
)

// TransportConfig configures a Transport. The zero value is usable.
type TransportConfig struct {
	// Timeout bounds each exchange, including a TCP retry after a
	// truncated UDP reply and a TLS handshake (default DefaultTimeout).
	// A shorter deadline on the context wins.
	Timeout time.Duration
	// BufSize caps the EDNS0 UDP payload size advertised upstream (default
	// DefaultBufSize). Queries with a larger OPT size are sent with this one.
	BufSize uint16
	// Logger receives debug messages about ignored replies (default: discard).
	Logger *slog.Logger
}

// Transport is the real Exchanger: it sends queries to upstream servers over
// UDP (retrying over TCP when the reply is truncated), TCP, or TLS.
//
// Every exchange uses a fresh random message ID and, over UDP, a socket of
// its own (opened just before, or a little ahead of need) so the kernel
// picks a random source port (RFC 5452 section 9.2). Replies
// whose ID or question do not match the query, and malformed packets, are
// ignored and reading continues until the deadline, so a spoofed packet can
// neither poison nor end an exchange. A Transport is safe for concurrent use.
type Transport struct {
	timeout time.Duration
	bufSize uint16
	log     *slog.Logger
	dialer  net.Dialer
	bufs    sync.Pool // *[]byte of udpBufLen(bufSize): read buffers
	udp     *udpPool  // IPv4 sockets opened ahead of need

	mu     sync.Mutex
	idle   map[tlsKey][]*idleConn // idle DoT connections, most recent last
	closed bool
}

// tlsKey identifies a pool of DoT connections. Connections are shared only
// between exchanges that pass the same *tls.Config, so one verified under
// one server name is never used for another.
type tlsKey struct {
	server netip.AddrPort
	conf   *tls.Config
}

type idleConn struct {
	conn  net.Conn
	since time.Time
}

var _ Exchanger = (*Transport)(nil) // type check

// NewTransport returns a Transport with cfg's defaults applied.
func NewTransport(cfg TransportConfig) *Transport {
	t := &Transport{
		timeout: cfg.Timeout,
		bufSize: cfg.BufSize,
		log:     cfg.Logger,
		idle:    make(map[tlsKey][]*idleConn),
		udp:     &udpPool{},
	}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	if t.bufSize == 0 {
		t.bufSize = DefaultBufSize
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	n := udpBufLen(t.bufSize)
	t.bufs.New = func() any {
		b := make([]byte, n)
		return &b
	}
	return t
}

// udpBufLen is the read buffer size for a Transport advertising bufSize:
// one byte more than any reply we invited, so that a larger one (which the
// kernel truncates to the buffer) is noticed and retried over TCP.
func udpBufLen(bufSize uint16) int {
	return max(int(bufSize), dns.MinMsgSize) + 1
}

// Close closes idle DoT connections and the UDP sockets opened ahead of
// need. Exchanges still work afterwards, but no longer keep connections or
// sockets open.
func (t *Transport) Close() error {
	t.udp.close()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for k, conns := range t.idle {
		for _, c := range conns {
			c.conn.Close()
		}
		delete(t.idle, k)
	}
	return nil
}

// Exchange sends m to server over UDP and returns the reply, retrying over
// TCP when the reply is truncated. m is not modified; the reply carries m's
// ID (the random ID used on the wire stays inside the Transport). Failures to
// get a reply wrap ErrNetwork, and the context's error when it ended first.
func (t *Transport) Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	q, wire, err := t.prepare(m)
	if err != nil {
		return nil, err
	}
	r, err := t.exchangeUDP(ctx, q, wire, server)
	if err != nil {
		return nil, err
	}
	if r == nil { // truncated: the whole answer needs TCP (RFC 7766 section 5)
		if r, err = t.exchangeTCP(ctx, q, wire, server); err != nil {
			return nil, err
		}
	}
	r.Id = m.Id
	return r, nil
}

// ExchangeTCP sends m to server over a new TCP connection. It is otherwise
// like Exchange.
func (t *Transport) ExchangeTCP(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	q, wire, err := t.prepare(m)
	if err != nil {
		return nil, err
	}
	r, err := t.exchangeTCP(ctx, q, wire, server)
	if err != nil {
		return nil, err
	}
	r.Id = m.Id
	return r, nil
}

// ExchangeTLS sends m to server over DNS over TLS (RFC 7858), verifying the
// server with tlsConf (nil verifies the server's IP address against the
// system roots). Idle connections are kept per server and *tls.Config and
// reused, one query at a time; a connection is dropped on any error. It is
// otherwise like Exchange.
func (t *Transport) ExchangeTLS(ctx context.Context, m *dns.Msg, server netip.AddrPort, tlsConf *tls.Config) (*dns.Msg, error) {
	q, wire, err := t.prepare(m)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	key := tlsKey{server, tlsConf}
	for {
		conn := t.takeIdle(key)
		reused := conn != nil
		if conn == nil {
			d := tls.Dialer{NetDialer: &t.dialer, Config: tlsConf}
			if conn, err = d.DialContext(ctx, "tcp", server.String()); err != nil {
				return nil, exchangeErr(parent, "tls", server, err)
			}
		}
		r, healthy, err := t.roundTrip(ctx, conn, q, wire, server)
		if err == nil {
			if healthy {
				t.putIdle(key, conn)
			} else {
				conn.Close()
			}
			r.Id = m.Id
			return r, nil
		}
		conn.Close()
		if reused && ctx.Err() == nil && !errors.Is(err, errTimeout) {
			// The server most likely closed the idle connection (EOF or
			// reset on first use): try the next one, or a fresh dial.
			t.log.Debug("dropping stale dot connection", "server", server, "err", err)
			continue
		}
		return nil, exchangeErr(parent, "tls", server, err)
	}
}

// prepare copies m for the wire: a fresh random ID and an EDNS0 size no
// larger than ours. It returns the copy and its packed form.
func (t *Transport) prepare(m *dns.Msg) (*dns.Msg, []byte, error) {
	if len(m.Question) != 1 {
		return nil, nil, fmt.Errorf("preparing query: %d questions, want 1", len(m.Question))
	}
	q := m.Copy()
	q.Id = randomID()
	if opt := q.IsEdns0(); opt != nil && opt.UDPSize() > t.bufSize {
		opt.SetUDPSize(t.bufSize)
	}
	wire, err := q.Pack()
	if err != nil {
		return nil, nil, fmt.Errorf("packing query for %s: %w", q.Question[0].Name, err)
	}
	return q, wire, nil
}

// randomID returns an unpredictable message ID. It reads crypto/rand rather
// than math/rand/v2: the ID is half of what an off-path spoofer has to guess
// (the source port is the other half), math/rand/v2 documents its output as
// unsuitable for security-sensitive work, and the cost of crypto/rand (well
// under a microsecond) is small next to opening a socket for each exchange.
func randomID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:]) // never fails: it crashes the program instead (Go 1.24+)
	return binary.BigEndian.Uint16(b[:])
}

// exchangeUDP sends wire from a fresh connected UDP socket and reads until a
// matching reply arrives. It returns a nil message and no error when the
// reply is truncated.
func (t *Transport) exchangeUDP(ctx context.Context, q *dns.Msg, wire []byte, server netip.AddrPort) (*dns.Msg, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()

	// A connected socket of its own: the kernel picked a random ephemeral
	// source port, and delivers only datagrams from server (and ICMP
	// errors about it). It may have been opened ahead (udpPool).
	if err := ctx.Err(); err != nil {
		return nil, exchangeErr(parent, "udp", server, err)
	}
	conn, err := t.udp.take(server)
	if err != nil {
		return nil, exchangeErr(parent, "udp", server, err)
	}
	defer t.udp.put(conn)
	stop := watch(ctx, conn)
	defer stop()

	if err := sendRaw(conn, wire); err != nil {
		return nil, exchangeErr(parent, "udp", server, err)
	}
	if t.udp.empty() || !serviceAfterReply(ctx, t.udp) {
		t.udp.service() // while the server works on the query
	}
	bp := t.bufs.Get().(*[]byte)
	defer t.bufs.Put(bp)
	buf := *bp
	for {
		n, err := recvRaw(conn, buf)
		if err != nil {
			return nil, exchangeErr(parent, "udp", server, err)
		}
		// A datagram filling the buffer is bigger than we invited and
		// was cut short: treat it as truncated.
		r, tc, why := parseReply(q, buf[:n], n == len(buf))
		switch {
		case why != "":
			t.log.Debug("ignoring reply", "server", server, "proto", "udp", "reason", why)
		case tc:
			return nil, nil
		default:
			return r, nil
		}
	}
}

// exchangeTCP sends wire over a new TCP connection and reads the reply.
func (t *Transport) exchangeTCP(ctx context.Context, q *dns.Msg, wire []byte, server netip.AddrPort) (*dns.Msg, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	conn, err := t.dialer.DialContext(ctx, "tcp", server.String())
	if err != nil {
		return nil, exchangeErr(parent, "tcp", server, err)
	}
	defer conn.Close()
	r, _, err := t.roundTrip(ctx, conn, q, wire, server)
	if err != nil {
		return nil, exchangeErr(parent, "tcp", server, err)
	}
	return r, nil
}

// errTimeout marks a stream exchange that ran out of time.
var errTimeout = errors.New("timed out")

// roundTrip writes wire on a stream connection with two-byte length framing
// (RFC 1035 section 4.2.2) and reads framed messages until one matches q.
// healthy reports whether conn may be reused: the exchange finished cleanly
// and ctx cannot interrupt it later.
func (t *Transport) roundTrip(ctx context.Context, conn net.Conn, q *dns.Msg, wire []byte, server netip.AddrPort) (r *dns.Msg, healthy bool, err error) {
	stop := watch(ctx, conn)
	defer func() {
		// If ctx ended meanwhile, its deadline may land on conn at any
		// moment: such a connection must not go back to the pool.
		healthy = stop() && err == nil
	}()

	bp := t.bufs.Get().(*[]byte)
	defer t.bufs.Put(bp)
	buf := *bp
	frame := make([]byte, 2+len(wire)) // one write: one TLS record, one segment
	binary.BigEndian.PutUint16(frame, uint16(len(wire)))
	copy(frame[2:], wire)
	if _, err := conn.Write(frame); err != nil {
		return nil, false, streamErr(err)
	}
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return nil, false, streamErr(err)
		}
		msg := buf
		if n := int(binary.BigEndian.Uint16(hdr[:])); n <= len(buf) {
			msg = buf[:n]
		} else {
			msg = make([]byte, n) // a large reply: TCP carries up to 64 KiB
		}
		if _, err := io.ReadFull(conn, msg); err != nil {
			return nil, false, streamErr(err)
		}
		r, _, why := parseReply(q, msg, false)
		if why != "" {
			t.log.Debug("ignoring reply", "server", server, "proto", "stream", "reason", why)
			continue
		}
		return r, true, nil
	}
}

func streamErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", errTimeout, err)
	}
	return err
}

// watch applies ctx's deadline to conn and interrupts conn's I/O when ctx
// is cancelled. The returned stop reports false when that interruption may
// already have happened or still happen.
func watch(ctx context.Context, conn net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Unix(1, 0)) // in the past: fail pending I/O now
	})
}

// exchangeErr wraps err, a failure to get a reply from server, as a network
// error. When the caller's context ended, its error is reported instead of
// the I/O error that the interruption caused.
func exchangeErr(parent context.Context, proto string, server netip.AddrPort, err error) error {
	if perr := parent.Err(); perr != nil {
		err = perr
	} else if dl, ok := parent.Deadline(); ok && !time.Now().Before(dl) {
		// The socket deadline fired a moment before the context's timer.
		err = context.DeadlineExceeded
	}
	return fmt.Errorf("exchanging with %s://%s: %w: %w", proto, server, ErrNetwork, err)
}

// parseReply checks that pkt answers q: same ID, QR set, and the same
// question (name compared case-insensitively). Only then is the rest
// unpacked. It returns the reply, or tc when the reply is truncated or cut
// (and not unpacked), or a non-empty reason to ignore the packet.
func parseReply(q *dns.Msg, pkt []byte, cut bool) (r *dns.Msg, tc bool, why string) {
	if len(pkt) < headerLen {
		return nil, false, "short packet"
	}
	if binary.BigEndian.Uint16(pkt[0:]) != q.Id {
		return nil, false, "id mismatch"
	}
	flags := binary.BigEndian.Uint16(pkt[2:])
	if flags&flagQR == 0 {
		return nil, false, "not a response"
	}
	if binary.BigEndian.Uint16(pkt[4:]) != 1 {
		return nil, false, "question count not 1"
	}
	name, off, err := dns.UnpackDomainName(pkt, headerLen)
	if err != nil || off+4 > len(pkt) {
		return nil, false, "malformed question"
	}
	want := q.Question[0]
	if !strings.EqualFold(name, want.Name) ||
		binary.BigEndian.Uint16(pkt[off:]) != want.Qtype ||
		binary.BigEndian.Uint16(pkt[off+2:]) != want.Qclass {
		return nil, false, "question mismatch"
	}
	if flags&flagTC != 0 || cut {
		return nil, true, ""
	}
	r = new(dns.Msg)
	if err := r.Unpack(pkt); err != nil {
		return nil, false, "malformed: " + err.Error()
	}
	return r, false, ""
}

// takeIdle returns the most recently used idle connection for key, closing
// any that have been idle too long, or nil.
func (t *Transport) takeIdle(key tlsKey) net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	conns := t.idle[key]
	for len(conns) > 0 {
		c := conns[len(conns)-1]
		conns = conns[:len(conns)-1]
		if time.Since(c.since) < tlsIdleTimeout {
			t.setIdle(key, conns)
			return c.conn
		}
		c.conn.Close()
	}
	t.setIdle(key, conns)
	return nil
}

// putIdle keeps conn for reuse, or closes it when the pool is full.
func (t *Transport) putIdle(key tlsKey, conn net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.idle[key]) >= tlsMaxIdle {
		conn.Close()
		return
	}
	t.idle[key] = append(t.idle[key], &idleConn{conn: conn, since: time.Now()})
}

func (t *Transport) setIdle(key tlsKey, conns []*idleConn) {
	if len(conns) == 0 {
		delete(t.idle, key)
		return
	}
	t.idle[key] = conns
}
