//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"gatehouse/bench/internal/benchproc"
)

// exchange asks for name's A record over UDP on conn and returns the
// reply with the query's ID.
func exchange(conn net.Conn, name string, timeout time.Duration) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.RecursionDesired = true
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing query: %w", err)
	}
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, fmt.Errorf("sending query: %w", err)
	}
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("reading reply: %w", err)
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:n]) != nil || r.Id != q.Id {
			continue // stray reply to an earlier timed-out attempt
		}
		return r, nil
	}
}

// answerIs checks that r answers n with n's address.
func answerIs(r *dns.Msg, n benchName) error {
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%s: rcode %s", n.Name, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if got, _ := netip.AddrFromSlice(a.A.To4()); got != n.Addr {
				return fmt.Errorf("%s resolved to %s, want %s", n.Name, got, n.Addr)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: no A record in the answer", n.Name)
}

// isEcho checks that r is the baseline responder's echo of the query.
func isEcho(r *dns.Msg, n benchName) error {
	if !r.Response || len(r.Question) != 1 || r.Question[0].Name != n.Name {
		return fmt.Errorf("%s: not an echo of the query: %v", n.Name, r)
	}
	return nil
}

// waitReady asks server for name until it answers correctly, the process
// exits, or the deadline passes.
func waitReady(ctx context.Context, p *benchproc.Process, server string, n benchName, verify func(*dns.Msg, benchName) error, deadline time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	var last error
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited during start-up (%v); its log:\n%s", p.Name, p.Err(), p.LogTail())
		}
		conn, err := net.Dial("udp", server)
		if err == nil {
			var r *dns.Msg
			r, err = exchange(conn, n.Name, 200*time.Millisecond)
			conn.Close()
			if err == nil {
				err = verify(r, n)
			}
		}
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s at %s did not answer within %s: %w; its log:\n%s", p.Name, server, deadline, last, p.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// warm asks server for every name once (a few retries each) from workers
// goroutines and checks each answer is the name's address, so both servers
// are known to hold the same correct set before anything is measured.
func warm(ctx context.Context, server string, names []benchName, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", server)
			if err != nil {
				errs[w] = fmt.Errorf("warming %s: %w", server, err)
				return
			}
			defer conn.Close()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				var r *dns.Msg
				for try := 0; try < 4; try++ {
					r, err = exchange(conn, names[i].Name, time.Second)
					if err == nil {
						break
					}
				}
				if err == nil {
					err = answerIs(r, names[i])
				}
				if err != nil {
					errs[w] = fmt.Errorf("warming %s: %w", server, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}
