//go:build linux

package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// backend is the authority behind Gatehouse: it answers the answered
// names and the markers under benchZone, and refuses everything else.
// It runs in the harness's process; Gatehouse asks it only on cache
// misses (the warm-up, a marker after each swap).
type backend struct {
	srv  *dns.Server
	addr string
}

func startBackend() (*backend, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the authority: %w", err)
	}
	b := &backend{addr: pc.LocalAddr().String()}
	started := make(chan struct{})
	b.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(b.serve), NotifyStartedFunc: func() { close(started) }}
	errc := make(chan error, 1)
	go func() { errc <- b.srv.ActivateAndServe() }()
	select {
	case <-started:
		return b, nil
	case err := <-errc:
		return nil, fmt.Errorf("starting the authority: %w", err)
	}
}

func (b *backend) close() { b.srv.Shutdown() }

func (b *backend) serve(w dns.ResponseWriter, q *dns.Msg) {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	if len(q.Question) != 1 {
		r.Rcode = dns.RcodeRefused
		w.WriteMsg(r)
		return
	}
	name := strings.ToLower(q.Question[0].Name)
	addr, ok := lookup(name)
	switch {
	case !ok:
		r.Rcode = dns.RcodeRefused
	case q.Question[0].Qtype == dns.TypeA:
		r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: addr.AsSlice()})
	}
	w.WriteMsg(r)
}

// lookup returns the address of an answered name or a marker.
func lookup(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, "."+benchZone)
	if !ok {
		return netip.Addr{}, false
	}
	if site, ok := strings.CutPrefix(rest, "www.site"); ok {
		i, err := strconv.Atoi(site)
		if err != nil || i < 0 || i > 65535 {
			return netip.Addr{}, false
		}
		_, a := answered(i)
		return a, true
	}
	if m, ok := strings.CutSuffix(rest, ".list"); ok && strings.HasPrefix(m, "marker") {
		return netip.AddrFrom4([4]byte{198, 19, 255, 254}), true
	}
	return netip.Addr{}, false
}
