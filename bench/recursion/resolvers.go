//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/miekg/dns"

	"gatehouse/bench/internal/benchproc"
)

const (
	gatehouseName = "gatehouse"
	unboundName   = "unbound"
)

// resolverProc is one running resolver under test.
type resolverProc struct {
	name string
	addr string // 127.0.0.1:port
	proc *benchproc.Process
}

func (r *resolverProc) stop() { r.proc.Stop(5 * time.Second) }

// setup is what both resolvers are started from: the binaries and the
// files describing the private root.
type setup struct {
	dir       string // work directory
	gatehouse string // binary
	unbound   string // binary
	hints     string // root hints file
	anchors   string // trust anchor file
	runs      int    // processes started, for unique directories
}

// writeFiles writes the root hints and trust anchor files a newcomer would
// write by hand: the same two files serve both resolvers.
func (s *setup) writeFiles(h *hierarchy) error {
	s.hints = filepath.Join(s.dir, "root.hints")
	s.anchors = filepath.Join(s.dir, "root.key")
	if err := os.WriteFile(s.hints, []byte(h.hints), 0o644); err != nil {
		return fmt.Errorf("writing root hints: %w", err)
	}
	if err := os.WriteFile(s.anchors, []byte(h.anchors), 0o644); err != nil {
		return fmt.Errorf("writing trust anchors: %w", err)
	}
	return nil
}

// buildGatehouse compiles ./cmd/gatehouse into the work directory.
func (s *setup) buildGatehouse(ctx context.Context) error {
	s.gatehouse = filepath.Join(s.dir, "gatehouse")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", s.gatehouse, "gatehouse/cmd/gatehouse").CombinedOutput()
	if err != nil {
		return fmt.Errorf("building gatehouse: %w\n%s", err, out)
	}
	return nil
}

// gatehouseConfig is the shipped default except for the private root, the
// loopback name servers, and loopback listeners.
func gatehouseConfig(dir string, dnsPort, httpPort int, hints, anchors string) string {
	return fmt.Sprintf(`version: 1
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
state_dir: %q
access:
  allow: [127.0.0.0/8]
resolver:
  mode: recursive
  recursion:
    root_hints: %q
    allow_loopback: true
  dnssec:
    trust_anchors: %q
groups:
  - name: default
`, dnsPort, httpPort, dir, hints, anchors)
}

// unboundConfig is Unbound's defaults (QNAME minimisation, the harden-*
// options, aggressive NSEC, target-fetch-policy "3 2 1 0 0") with the same
// root hints and trust anchor file, plus what a private root on loopback
// needs: querying 127.0.0.0/8, and test. without its RFC 6761 local zone.
// IPv6 is off, as Gatehouse's recursion.ipv6 is by default, so neither
// looks up AAAA records of name servers. EDE is on (off by default in
// 1.17) to compare the reasons given for SERVFAIL.
func unboundConfig(dir string, port int, hints, anchors string) string {
	return fmt.Sprintf(`server:
  interface: 127.0.0.1@%d
  do-ip6: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  do-daemonize: no
  use-syslog: no
  logfile: %q
  log-time-ascii: yes
  verbosity: 1
  val-log-level: 2
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  root-hints: %q
  trust-anchor-file: %q
  module-config: "validator iterator"
  qname-minimisation: yes
  ede: yes
  local-zone: "test." nodefault
remote-control:
  control-enable: no
`, port, dir, filepath.Join(dir, "unbound.pid"), filepath.Join(dir, "unbound.log"), hints, anchors)
}

// start starts a fresh resolver (empty caches) and waits until it serves.
func (s *setup) start(ctx context.Context, name string) (*resolverProc, error) {
	s.runs++
	dir := filepath.Join(s.dir, fmt.Sprintf("%s-%d", name, s.runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s directory: %w", name, err)
	}
	port, err := benchproc.FreePort()
	if err != nil {
		return nil, err
	}
	r := &resolverProc{name: name, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	cfg := filepath.Join(dir, name+".conf")
	var ready func(context.Context) error
	switch name {
	case gatehouseName:
		hport, err := benchproc.FreePort()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(cfg, []byte(gatehouseConfig(dir, port, hport, s.hints, s.anchors)), 0o644); err != nil {
			return nil, fmt.Errorf("writing gatehouse config: %w", err)
		}
		if r.proc, err = benchproc.Start("gatehouse", filepath.Join(dir, "out.log"), nil, s.gatehouse, "serve", "--config", cfg); err != nil {
			return nil, err
		}
		// /healthz answers once the DNS listeners are up, and asks no
		// name server anything.
		url := fmt.Sprintf("http://127.0.0.1:%d/healthz", hport)
		ready = func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthz: %s", resp.Status)
			}
			return nil
		}
	case unboundName:
		if err := os.WriteFile(cfg, []byte(unboundConfig(dir, port, s.hints, s.anchors)), 0o644); err != nil {
			return nil, fmt.Errorf("writing unbound config: %w", err)
		}
		if r.proc, err = benchproc.Start("unbound", filepath.Join(dir, "out.log"), nil, s.unbound, "-d", "-c", cfg); err != nil {
			return nil, err
		}
		r.proc.UseLog(filepath.Join(dir, "unbound.log"))
		// localhost. is one of Unbound's built-in local zones: answered
		// without asking any name server.
		ready = func(ctx context.Context) error {
			m, err := ask(ctx, r.addr, "localhost.", dns.TypeA, false, false)
			if err == nil && m.Rcode != dns.RcodeSuccess {
				err = fmt.Errorf("localhost: %s", dns.RcodeToString[m.Rcode])
			}
			return err
		}
	default:
		return nil, fmt.Errorf("unknown resolver %q", name)
	}
	if err := waitReady(ctx, r, ready); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

func waitReady(ctx context.Context, r *resolverProc, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var last error
	for {
		if r.proc.Exited() {
			return fmt.Errorf("%s exited during start-up; its log:\n%s", r.name, r.proc.LogTail())
		}
		qctx, qcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		last = ready(qctx)
		qcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s at %s is not ready: %w; its log:\n%s", r.name, r.addr, last, r.proc.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ask sends one recursive query with EDNS0 (DO as given) and CD as given,
// over UDP and again over TCP when truncated.
func ask(ctx context.Context, server, name string, qtype uint16, do, cd bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.CheckingDisabled = cd
	m.SetEdns0(1232, do)
	c := &dns.Client{Net: "udp", UDPSize: 1232, Timeout: 15 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("asking %s for %s %s: %w", server, name, dns.Type(qtype), err)
	}
	return r, nil
}
