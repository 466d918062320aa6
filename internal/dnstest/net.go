package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// ErrNoReply is wrapped into every failed Net exchange: no server at the
// address, or no acceptable reply before the context ended. (dnstest cannot
// wrap resolver.ErrNetwork as resolver.Transport does: resolver's own tests
// import dnstest.)
var ErrNoReply = errors.New("dnstest: no reply")

// Net is an in-memory network of DNS servers for recursion tests. It has the
// method set of resolver.Exchanger and hands each query to the dns.Handler
// registered at the server's IP address (the port is ignored), such as a
// *Zone, or one of the fault handlers below. There are no sockets, so a Net
// works inside testing/synctest bubbles, where waiting for a server that
// never answers costs no real time.
//
// Net behaves like resolver.Transport's Exchange as seen by its caller:
//   - a reply is accepted only if its ID, QR bit and question (name compared
//     case-insensitively) match the query; other replies, and bytes that do
//     not unpack, are ignored, and the exchange waits for the context;
//   - a UDP reply with TC set, or one larger than the query's advertised
//     EDNS0 buffer (512 bytes without EDNS), is retried over TCP: the handler
//     is called again with a TCP RemoteAddr (see IsTCP) and both exchanges
//     are logged.
//
// Every query is recorded, in the order sent, for assertions (see Log). A Net
// is safe for concurrent use; register handlers before using it.
type Net struct {
	mu       sync.Mutex
	handlers map[netip.Addr]dns.Handler
	log      []Exchange
}

// Exchange is one query as the Net saw it.
type Exchange struct {
	Server netip.AddrPort
	Proto  string // "udp" or "tcp"
	Name   string // question name as sent, case preserved
	Type   uint16
	EDNS   bool // the query carried an OPT record
	DO     bool // DNSSEC OK was set
}

// String formats e compactly for test assertions: "192.0.2.1 udp example.org.
// A", with " noedns" or " do" appended when they apply.
func (e Exchange) String() string {
	s := e.Server.Addr().String() + " " + e.Proto + " " + e.Name + " " + dns.Type(e.Type).String()
	if !e.EDNS {
		s += " noedns"
	}
	if e.DO {
		s += " do"
	}
	return s
}

// NewNet returns an empty network.
func NewNet() *Net {
	return &Net{handlers: make(map[netip.Addr]dns.Handler)}
}

// Handle puts h at addr, an IP address literal (it panics on a bad one:
// that is a bug in the test). A later call for the same address replaces h.
func (n *Net) Handle(addr string, h dns.Handler) {
	a := netip.MustParseAddr(addr)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handlers[a.Unmap()] = h
}

// Log returns a copy of every exchange so far, in the order sent.
func (n *Net) Log() []Exchange {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Exchange(nil), n.log...)
}

// Lines returns Log formatted with Exchange.String, one string each.
func (n *Net) Lines() []string {
	var out []string
	for _, e := range n.Log() {
		out = append(out, e.String())
	}
	return out
}

// Reset forgets the exchange log.
func (n *Net) Reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = nil
}

// Exchange sends m to the handler at server and returns its reply. m is not
// modified. Failures wrap ErrNoReply, and the context's error when the
// context ended first.
func (n *Net) Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	if len(m.Question) != 1 {
		return nil, fmt.Errorf("dnstest: exchanging with %s: %d questions, want 1", server, len(m.Question))
	}
	wire, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("dnstest: packing query for %s: %w", server, err)
	}
	n.mu.Lock()
	h := n.handlers[server.Addr().Unmap()]
	n.mu.Unlock()

	r, tc, err := n.roundTrip(ctx, h, m, wire, server, "udp")
	if err != nil || !tc {
		return r, err
	}
	r, _, err = n.roundTrip(ctx, h, m, wire, server, "tcp")
	return r, err
}

// roundTrip logs one exchange over proto and waits for an acceptable reply.
// Over UDP it reports tc instead of a reply when the reply is truncated.
func (n *Net) roundTrip(ctx context.Context, h dns.Handler, m *dns.Msg, wire []byte, server netip.AddrPort, proto string) (*dns.Msg, bool, error) {
	q := m.Question[0]
	e := Exchange{Server: server, Proto: proto, Name: q.Name, Type: q.Qtype}
	size := dns.MinMsgSize
	if opt := m.IsEdns0(); opt != nil {
		e.EDNS, e.DO = true, opt.Do()
		size = max(size, int(opt.UDPSize()))
	}
	n.mu.Lock()
	n.log = append(n.log, e)
	n.mu.Unlock()

	if h == nil {
		return nil, false, fmt.Errorf("exchanging with %s://%s: no server there: %w", proto, server, ErrNoReply)
	}
	// The handler gets its own copy of the query, as a server would.
	req := new(dns.Msg)
	if err := req.Unpack(wire); err != nil {
		return nil, false, fmt.Errorf("dnstest: unpacking query: %w", err)
	}
	w := newNetWriter(server, proto)
	defer close(w.gone)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeDNS(w, req)
	}()

	replies := w.replies
	for {
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("exchanging with %s://%s: %w: %w", proto, server, ErrNoReply, ctx.Err())
		case <-done:
			// The handler returned; a reply it wrote is still buffered.
			// Without one, only the context ends the wait (a dropped query).
			done = nil
			if len(replies) == 0 {
				replies = nil
			}
		case b := <-replies:
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil || !r.Response || r.Id != m.Id ||
				len(r.Question) != 1 || r.Question[0].Qtype != q.Qtype ||
				r.Question[0].Qclass != q.Qclass || !strings.EqualFold(r.Question[0].Name, q.Name) {
				continue // ignored, as the Transport ignores such packets
			}
			if proto == "udp" && (r.Truncated || len(b) > size) {
				return nil, true, nil
			}
			return r, false, nil
		}
	}
}

// netWriter is the dns.ResponseWriter a Net hands to handlers.
type netWriter struct {
	local, remote net.Addr
	replies       chan []byte
	gone          chan struct{} // closed when the exchange stops waiting
}

// netClient is the address handlers see queries come from.
var netClient = netip.MustParseAddrPort("127.0.0.1:5353")

func newNetWriter(server netip.AddrPort, proto string) *netWriter {
	w := &netWriter{replies: make(chan []byte, 4), gone: make(chan struct{})}
	if proto == "tcp" {
		w.local, w.remote = net.TCPAddrFromAddrPort(server), net.TCPAddrFromAddrPort(netClient)
	} else {
		w.local, w.remote = net.UDPAddrFromAddrPort(server), net.UDPAddrFromAddrPort(netClient)
	}
	return w
}

func (w *netWriter) LocalAddr() net.Addr  { return w.local }
func (w *netWriter) RemoteAddr() net.Addr { return w.remote }

func (w *netWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Write sends one reply; replies beyond a few are dropped, as a full socket
// buffer would.
func (w *netWriter) Write(b []byte) (int, error) {
	select {
	case w.replies <- append([]byte(nil), b...):
	default:
	}
	return len(b), nil
}

func (w *netWriter) Close() error        { return nil }
func (w *netWriter) TsigStatus() error   { return nil }
func (w *netWriter) TsigTimersOnly(bool) {}
func (w *netWriter) Hijack()             {}

// IsTCP reports whether the query being served came over TCP.
func IsTCP(w dns.ResponseWriter) bool {
	return w.RemoteAddr().Network() == "tcp"
}

// Drop returns a handler that never replies: an unresponsive server.
func Drop() dns.Handler {
	return dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {})
}

// Rcode returns a handler that answers every query with rcode and no
// records, echoing the question (and EDNS, if the query had it).
func Rcode(rcode int) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(1232, opt.Do())
		}
		_ = w.WriteMsg(m)
	})
}

// TruncateUDP returns a handler that answers UDP queries with an empty
// truncated reply (TC set) and serves TCP queries with h.
func TruncateUDP(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if IsTCP(w) {
			h.ServeDNS(w, r)
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	})
}

// NoEDNS returns a handler that answers queries carrying an OPT record with
// FORMERR and no OPT, as servers predating EDNS0 do, and serves the others
// with h.
func NoEDNS(h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.IsEdns0() == nil {
			h.ServeDNS(w, r)
			return
		}
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
	})
}

// Delay returns a handler that waits d (fake time inside a synctest bubble)
// and then serves with h. On a Net it gives up early when the exchange is
// abandoned, so no goroutine outlives the exchange in a synctest bubble.
func Delay(d time.Duration, h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		var gone <-chan struct{}
		if nw, ok := w.(*netWriter); ok {
			gone = nw.gone
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			h.ServeDNS(w, r)
		case <-gone:
		}
	})
}

// Mangle returns a handler that serves with h and lets f change each reply
// before it is sent: add poison, strip flags, rewrite the question. f gets
// the query too; it must not modify it.
func Mangle(h dns.Handler, f func(q, r *dns.Msg)) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		h.ServeDNS(&mangler{ResponseWriter: w, q: r, f: f}, r)
	})
}

type mangler struct {
	dns.ResponseWriter
	q *dns.Msg
	f func(q, r *dns.Msg)
}

func (m *mangler) WriteMsg(r *dns.Msg) error {
	m.f(m.q, r)
	return m.ResponseWriter.WriteMsg(r)
}
