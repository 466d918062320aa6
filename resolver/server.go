package resolver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"gatehouse/clientmap"
	"gatehouse/policy"
	"gatehouse/querylog"
)

// ServerConfig holds what a Server is built from. Fields marked "reloadable"
// can change later through the Server's setters; the rest need a restart.
type ServerConfig struct {
	// Cache answers allowed questions (it wraps the forwarder or recursor).
	Cache AnswerCache
	// Policy is the first snapshot (reloadable via SetPolicy).
	Policy *policy.Snapshot
	// BufSize is the EDNS0 UDP size we advertise (default 1232, the DNS
	// flag day 2020 value that avoids fragmentation).
	BufSize uint16
	// QueryTimeout bounds the upstream work for one query (default 5 s).
	QueryTimeout time.Duration
	// UDPSockets per listen address, sharing the port with SO_REUSEPORT so
	// every core reads packets (default: GOMAXPROCS).
	UDPSockets int
	// TCP limits (RFC 7766).
	TCPMaxConns    int           // default 256
	TCPIdleTimeout time.Duration // default 10 s
	TCPReadTimeout time.Duration // default 2 s
	// RateLimit per client address (reloadable via SetRateLimit).
	RateLimit RateLimit
	// QueryLog receives an entry for every query answered (nil: none).
	QueryLog QueryLog
	Logger   *slog.Logger
	Metrics  *Metrics
}

// QueryLog records queries. Enqueue must not block: the query path calls
// it for every query.
type QueryLog interface {
	Enqueue(e querylog.Entry) bool
}

// Server is the DNS front end: it owns the listeners and runs the query
// path for every packet. It is the only place that writes to clients.
type Server struct {
	cache        AnswerCache
	qlog         QueryLog
	bufSize      uint16
	queryTimeout time.Duration
	udpSockets   int
	tcpMaxConns  int
	tcpIdle      time.Duration
	tcpRead      time.Duration
	log          *slog.Logger
	m            *Metrics

	snap    atomic.Pointer[policy.Snapshot]
	limiter *limiter

	base     context.Context // parent of every query's context; cancelled by Shutdown
	cancel   context.CancelFunc
	mu       sync.Mutex // guards the fields below
	lns      []closer
	tcpConns map[net.Conn]struct{}
	tcpSem   chan struct{} // one slot per allowed TCP connection
	closed   bool
	sweeping bool

	serving sync.WaitGroup // listener loops
	queries sync.WaitGroup // queries handed off to goroutines
	bufs    sync.Pool      // *buffers for handed-off queries

	// udpReads counts the UDP read loops' batched reads that found
	// packets, udpFull those that filled the batch: the socket held more
	// than one read takes, so queries are waiting (see UDPBacklog).
	udpReads, udpFull atomic.Uint64
}

// UDPBacklog returns how many batched UDP reads found packets, and how
// many of them found more than a batch waiting, since the server started.
// The second growing with the first means queries queue in the sockets:
// the server is short of CPU. Only the Linux read loop batches; elsewhere
// both stay 0.
func (s *Server) UDPBacklog() (reads, full uint64) {
	return s.udpReads.Load(), s.udpFull.Load()
}

type closer interface{ Close() error }

// NewServer checks cfg and builds a Server. It does not listen yet.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Cache == nil {
		return nil, errors.New("server: no cache")
	}
	if cfg.Policy == nil {
		return nil, errors.New("server: no policy")
	}
	s := &Server{
		cache:        cfg.Cache,
		qlog:         cfg.QueryLog,
		bufSize:      orDefault(cfg.BufSize, 1232),
		queryTimeout: orDefault(cfg.QueryTimeout, 5*time.Second),
		udpSockets:   orDefault(cfg.UDPSockets, runtime.GOMAXPROCS(0)),
		tcpMaxConns:  orDefault(cfg.TCPMaxConns, 256),
		tcpIdle:      orDefault(cfg.TCPIdleTimeout, 10*time.Second),
		tcpRead:      orDefault(cfg.TCPReadTimeout, 2*time.Second),
		log:          cfg.Logger,
		m:            cfg.Metrics,
		limiter:      newLimiter(cfg.RateLimit),
	}
	if !reusePortBalances {
		s.udpSockets = 1
	}
	if s.bufSize < dns.MinMsgSize {
		return nil, fmt.Errorf("server: EDNS buffer size %d is below %d", s.bufSize, dns.MinMsgSize)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = discardMetrics()
	}
	s.snap.Store(cfg.Policy)
	s.base, s.cancel = context.WithCancel(context.Background())
	s.bufs.New = func() any { return newBuffers() }
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// SetPolicy publishes a new policy snapshot; queries already running keep
// the one they loaded.
func (s *Server) SetPolicy(p *policy.Snapshot) { s.snap.Store(p) }

// Policy returns the snapshot in force.
func (s *Server) Policy() *policy.Snapshot { return s.snap.Load() }

// SetRateLimit replaces the per-client rate limit settings.
func (s *Server) SetRateLimit(r RateLimit) { s.limiter.set(r) }

// proto is the transport a query arrived on.
type proto uint8

const (
	protoUDP proto = iota
	protoTCP
	numProtos
)

func (p proto) String() string {
	if p == protoTCP {
		return "tcp"
	}
	return "udp"
}

// source says where an answer came from, for the latency histogram.
type source uint8

const (
	sourceCache source = iota
	sourceUpstream
	sourceLocal
	numSources
)

// buffers is the scratch space one query needs. Listener loops own one
// each; handed-off queries take one from a pool.
type buffers struct {
	name  [256]byte
	out   []byte // the reply
	frame []byte // TCP: length prefix plus reply, written at once
	oob   []byte // UDP: the source address control message
}

func newBuffers() *buffers {
	return &buffers{out: make([]byte, 0, dns.MaxMsgSize), oob: make([]byte, 0, oobSize)}
}

// query is one query in flight: the parsed packet, where it came from, and
// what the pipeline has learned about it so far.
type query struct {
	wq     wireQuery
	src    netip.AddrPort
	local  netip.Addr // the address the client sent to (wildcard UDP listeners)
	ifidx  uint32     // and the interface it came in on
	proto  proto
	start  time.Time
	client clientmap.Client
	d      policy.Decision
	snap   *policy.Snapshot // the one snapshot this query is decided by
	// blockedAnswer is the upstream answer an answer-side check blocked,
	// for the query log (nil otherwise).
	blockedAnswer *Answer
	// lookup is what to ask the cache: the question, or a rewrite's target.
	lookup Question
	// detached: the name no longer points into a listener buffer.
	detached bool
}

// detach copies what still points into the listener's buffers, so the query
// can move to another goroutine while the listener reads the next packet.
func (qu *query) detach() {
	qu.wq.question = bytes.Clone(qu.wq.question)
	qu.wq.ecs = bytes.Clone(qu.wq.ecs)
	name := strings.Clone(qu.wq.q.Name)
	qu.d.Matched = suffixOf(name, qu.d.Matched)
	if qu.lookup.Name == qu.wq.q.Name {
		qu.lookup.Name = name
	}
	qu.wq.q.Name = name
	qu.detached = true
}

// suffixOf returns m as a substring of name when it is one of name's
// suffixes: decisions point into the query name, which may be a reused
// buffer, and must follow it when it is copied.
func suffixOf(name, m string) string {
	if strings.HasSuffix(name, m) {
		return name[len(name)-len(m):]
	}
	return m
}

// answer runs the query path for one packet and returns the reply to send
// (nil: send nothing). It is the whole pipeline, in order:
//
//  1. parse and validate (fast wire parser; miekg/dns for anything unusual)
//  2. access control and rate limiting
//  3. identify the client
//  4. decide policy
//  5. cache; on a miss, upstream (in resolve)
//  6. finish: fit the reply to the client, count it
//
// It never blocks: a query that needs upstream work returns miss=true, and
// the listener detaches it and calls resolve on another goroutine. Cache
// hits, the great majority, are answered on the listener's goroutine
// without allocating.
func (s *Server) answer(pkt []byte, qu *query, b *buffers) (reply []byte, miss bool) {
	wq := &qu.wq
	switch parseQuery(pkt, b.name[:], wq) {
	case parseDrop:
		s.m.dropped(dropMalformed)
		return nil, false
	case parseSlow:
		if rcode, ok := s.parseFull(pkt, wq); !ok {
			return s.local(qu, b, rcode, nil), false
		}
	}
	s.m.query(qu.proto, wq.q.Type)

	addr := qu.src.Addr().Unmap()
	snap := s.snap.Load() // exactly one policy snapshot per query
	qu.snap = snap
	if !snap.Allowed(addr) {
		s.m.refused()
		return s.local(qu, b, dns.RcodeRefused, nil), false
	}
	if !s.limiter.allow(addr, qu.start) {
		s.m.dropped(dropRateLimit)
		return nil, false
	}
	if wq.opts != nil && snap.TrustedForwarder(addr) {
		// A forwarder we trust names the client it asks for; its ECS
		// option is echoed in the reply (RFC 7871 7.2.2).
		qu.client = snap.IdentifyForwarded(addr, parseClientOptions(wq.opts), qu.start)
		wq.ecs = ecsOption(wq.opts)
	} else {
		qu.client = snap.Identify(addr, qu.start)
	}
	qu.d = snap.Decide(qu.client, wq.q.Name, wq.q.Type, qu.start)
	s.m.decided(qu.d)
	qu.lookup = wq.q
	switch qu.d.Action {
	case policy.Block:
		return s.blocked(qu, snap, b), false
	case policy.Rewrite:
		// The target's records, as an ordinary client would get them; our
		// CNAME in front is unsigned, so no RRSIGs.
		qu.lookup = Question{Name: qu.d.Target, Type: wq.q.Type, CD: wq.q.CD}
	}

	if c, ok := s.cache.Lookup(qu.lookup, qu.start); ok {
		return s.reply(qu, c, b), false
	}
	return nil, true
}

// reply fits a cached or resolved answer to the query's decision, after
// the answer-side checks (answercheck.go), which run on every hit.
func (s *Server) reply(qu *query, c Cached, b *buffers) []byte {
	if qu.d.Action == policy.Rewrite {
		return s.rewritten(qu, c, b)
	}
	if s.answerBlocked(qu, c.Answer) {
		return s.blocked(qu, qu.snap, b)
	}
	return s.finish(qu, c, nil, b)
}

// resolve finishes a query that missed the cache: one upstream resolution
// (shared with identical concurrent misses), bounded by the query timeout.
func (s *Server) resolve(qu *query, b *buffers) []byte { return s.resolveThen(qu, b, nil) }

// resolveThen is resolve, leaving in after (if not nil) housekeeping for
// the caller to run once the reply is written.
func (s *Server) resolveThen(qu *query, b *buffers, after *afterReply) []byte {
	ctx, cancel := context.WithTimeout(s.base, s.queryTimeout)
	defer cancel()
	if after != nil {
		ctx = withAfterReply(ctx, after)
	}
	c, err := s.cache.Get(ctx, qu.lookup)
	if err != nil {
		s.log.Debug("resolve failed", "question", qu.lookup.String(), "error", err)
		return s.local(qu, b, dns.RcodeServerFailure, edeFor(err))
	}
	return s.reply(qu, c, b)
}

// parseFull handles what the fast parser declined. It fills wq and returns
// ok for a query the normal path can serve; otherwise it returns the rcode
// to answer with.
func (s *Server) parseFull(pkt []byte, wq *wireQuery) (rcode int, ok bool) {
	// A reply must echo a question we can trust; until one is parsed the
	// reply carries none (RFC 1035 4.1.1 lets FORMERR omit it).
	wq.question, wq.edns, wq.opts, wq.ecs = nil, false, nil, nil
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		s.m.dropped(dropMalformed)
		return dns.RcodeFormatError, false
	}
	if req.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented, false
	}
	if len(req.Question) != 1 || len(req.Answer) != 0 || len(req.Ns) != 0 {
		return dns.RcodeFormatError, false
	}
	qn := req.Question[0]
	end, err := skipName(pkt, headerLen)
	if err != nil || end+4 > len(pkt) {
		return dns.RcodeFormatError, false
	}
	wq.question = pkt[headerLen : end+4]
	wq.class = qn.Qclass
	wq.q = Question{Name: dns.CanonicalName(qn.Name), Type: qn.Qtype, CD: req.CheckingDisabled}
	wq.udpSize, wq.version = dns.MinMsgSize, 0
	if opt := req.IsEdns0(); opt != nil {
		wq.edns = true
		wq.udpSize = max(opt.UDPSize(), dns.MinMsgSize)
		wq.version = opt.Version()
		wq.q.DO = opt.Do()
		wq.opts = optOptions(pkt, end+4)
		if wq.version != 0 {
			// RFC 6891 6.1.3: BADVERS, advertising the version we speak.
			return dns.RcodeBadVers, false
		}
	}
	if qn.Qclass != dns.ClassINET {
		// Not CHAOS (no version.bind to reveal), not ANY, not anything else.
		return dns.RcodeRefused, false
	}
	switch qn.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return dns.RcodeRefused, false // we are not an authority
	case dns.TypeMAILA, dns.TypeMAILB:
		return dns.RcodeNotImplemented, false
	case dns.TypeOPT:
		return dns.RcodeFormatError, false
	}
	return 0, true
}

// finish fits an answer to this client and counts it.
func (s *Server) finish(qu *query, c Cached, ede *dns.EDNS0_EDE, b *buffers) []byte {
	wq := &qu.wq
	o := ReplyOptions{
		ID:       wq.id,
		Question: wq.question,
		RD:       wq.flags&flagRD != 0,
		CD:       wq.flags&flagCD != 0,
		WantAD:   wq.q.DO || wq.flags&flagAD != 0,
		EDNS:     wq.edns,
		DO:       wq.q.DO,
		BufSize:  s.bufSize,
		Age:      c.Age,
		MaxTTL:   minCap(c.TTLCap, qu.d.TTLCap),
		EDE:      ede,
		ECS:      wq.ecs,
	}
	if qu.proto == protoUDP {
		o.MaxSize = int(min(wq.udpSize, s.bufSize))
		if !wq.edns {
			o.MaxSize = dns.MinMsgSize
		}
	}
	if c.Stale {
		o.StaleTTL = StaleTTL
		if o.EDE == nil {
			o.EDE = staleEDE
		}
		s.m.stale()
	}
	out := c.Answer.AppendReply(b.out[:0], &o)
	src := sourceCache
	if !c.FromCache {
		src = sourceUpstream
	}
	s.done(qu, c.Answer.Rcode, src, c.Answer, c.Answer.Security)
	return out
}

// minCap combines TTL caps, where 0 means none.
func minCap(a, b uint32) uint32 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// local writes and counts a reply synthesised here (errors, refusals)
// carrying the client's question.
func (s *Server) local(qu *query, b *buffers, rcode int, ede *dns.EDNS0_EDE) []byte {
	s.done(qu, rcode, sourceLocal, nil, SecurityUnchecked)
	return appendEmptyReply(b.out[:0], &qu.wq, rcode, ede, s.bufSize)
}

// done counts a reply and records it in the query log.
func (s *Server) done(qu *query, rcode int, src source, a *Answer, sec Security) {
	elapsed := time.Since(qu.start)
	s.m.answered(rcode, src, elapsed)
	if s.qlog == nil || qu.wq.question == nil {
		return // no query log, or a packet without a question worth logging
	}
	name := qu.wq.q.Name
	if !qu.detached {
		name = strings.Clone(name) // it points into the listener's buffer
	}
	d := qu.d
	e := querylog.Entry{
		Time:       qu.start,
		Client:     qu.client.Addr,
		Hostname:   qu.client.Hostname,
		MAC:        macText(qu.client),
		Group:      qu.client.Group,
		ClientRule: qu.client.Rule,
		Forwarder:  qu.client.Forwarder,
		QName:      name,
		QType:      qu.wq.q.Type,
		Proto:      logProtos[qu.proto],
		Decision:   logDecision(qu, rcode),
		Category:   d.Category,
		List:       d.List,
		Matched:    suffixOf(name, d.Matched),
		Rcode:      uint16(rcode),
		Source:     logSources[src],
		DNSSEC:     logSecurity[min(int(sec), len(logSecurity)-1)],
		Duration:   elapsed,
	}
	if !qu.client.Addr.IsValid() {
		e.Client = qu.src.Addr().Unmap() // refused before identification
	}
	if a != nil {
		e.Answer = a
	}
	s.qlog.Enqueue(e)
}

var (
	logProtos   = [numProtos]querylog.Proto{protoUDP: querylog.UDP, protoTCP: querylog.TCP}
	logSources  = [numSources]querylog.Source{sourceCache: querylog.SourceCache, sourceUpstream: querylog.SourceUpstream, sourceLocal: querylog.SourceLocal}
	logSecurity = [...]querylog.DNSSEC{
		SecurityUnchecked: querylog.DNSSECUnknown, SecuritySecure: querylog.Secure,
		SecurityInsecure: querylog.Insecure, SecurityBogus: querylog.Bogus, SecurityIndeterminate: querylog.DNSSECUnknown,
	}
)

// macText is the client's MAC as the log writes it. A MAC from a lease is
// formatted once per lease; one a forwarder sent is formatted here, for the
// log only.
func macText(c clientmap.Client) string {
	if c.MACText == "" && !c.MAC.IsZero() {
		return c.MAC.String()
	}
	return c.MACText
}

// optOptions finds the OPT record's options in a packet the full parser
// accepted, starting at off, the end of the question (answer and
// authority are empty there). It returns nil when there are none.
func optOptions(pkt []byte, off int) []byte {
	ar := int(binary.BigEndian.Uint16(pkt[10:]))
	for range ar {
		end, err := skipName(pkt, off)
		if err != nil || end+10 > len(pkt) {
			return nil
		}
		rrtype := binary.BigEndian.Uint16(pkt[end:])
		rdlen := int(binary.BigEndian.Uint16(pkt[end+8:]))
		off = end + 10 + rdlen
		if off > len(pkt) {
			return nil
		}
		if rrtype == dns.TypeOPT {
			if rdlen == 0 {
				return nil
			}
			return pkt[end+10 : off]
		}
	}
	return nil
}

// logDecision names what happened to a query for the log.
func logDecision(qu *query, rcode int) querylog.Decision {
	switch {
	case !qu.client.Addr.IsValid():
		return querylog.Refused // refused or malformed before identification
	case qu.d.Action == policy.Block && qu.d.Reason == policy.ReasonBypass:
		return querylog.BypassAttempt
	case qu.d.Action == policy.Block:
		return querylog.Blocked
	case qu.d.Action == policy.Rewrite && rcode != dns.RcodeServerFailure:
		return querylog.Rewritten
	case rcode == dns.RcodeServerFailure:
		return querylog.Failed
	case rcode == dns.RcodeRefused || rcode == dns.RcodeNotImplemented || rcode == dns.RcodeFormatError:
		return querylog.Refused
	}
	return querylog.Allowed
}

var staleEDE = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeStaleAnswer}

// edeFor maps a resolution error to the Extended DNS Error (RFC 8914) that
// tells the client why it got SERVFAIL.
func edeFor(err error) *dns.EDNS0_EDE {
	var ext *ExtendedError
	switch {
	case errors.As(err, &ext):
		return &dns.EDNS0_EDE{InfoCode: ext.Code, ExtraText: ext.Text}
	case errors.Is(err, ErrNoUpstream), errors.Is(err, context.DeadlineExceeded):
		return &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority}
	case errors.Is(err, ErrNetwork):
		return &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNetworkError}
	}
	return &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeOther}
}

// appendEmptyReply writes a reply with the client's question (if it has a
// trustworthy one) and no records: REFUSED, SERVFAIL, FORMERR and friends.
// The opcode is echoed (RFC 1035 4.1.1). Extended rcodes (BADVERS) go in
// the OPT record, added when the client used EDNS.
func appendEmptyReply(dst []byte, wq *wireQuery, rcode int, ede *dns.EDNS0_EDE, bufSize uint16) []byte {
	start := len(dst)
	flags := uint16(flagQR|flagRA) | wq.flags&(flagRD|flagCD|0x7800) | uint16(rcode&0xF)
	var qd byte
	if wq.question != nil {
		qd = 1
	}
	dst = append(dst, byte(wq.id>>8), byte(wq.id), byte(flags>>8), byte(flags), 0, qd, 0, 0, 0, 0, 0, 0)
	dst = append(dst, wq.question...)
	if wq.edns {
		dst = appendOPT(dst, start, bufSize, wq.q.DO, uint8(rcode>>4), ede, wq.ecs)
	}
	return dst
}
