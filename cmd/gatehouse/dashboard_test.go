package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/dashboard/store"
	"gatehouse/internal/dnstest"
	"gatehouse/internal/syncbuf"
)

// dashSiteConfig is a site with the dashboard, a block page on its own
// ports, and a small list whose entries include hostile names.
type dashInstance struct {
	*instance
	blockPage, blockPageHTTPS string
	state                     string
}

const dashPassword = "technician password"

func startDashboard(t *testing.T) *dashInstance {
	t.Helper()
	up := dnstest.NewServer(t, dnstest.NewZone(t, `
$ORIGIN example.org.
@    3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300
@    3600 IN NS  ns.example.org.
www   300 IN A   192.0.2.80
`))
	dir := t.TempDir()
	list := filepath.Join(dir, "games.txt")
	if err := os.WriteFile(list, []byte("games.example.org\nxn--evil.example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bp, bps := freePort(t), freePort(t)
	di := &dashInstance{blockPage: fmt.Sprintf("127.0.0.1:%d", bp), blockPageHTTPS: fmt.Sprintf("127.0.0.1:%d", bps)}
	di.instance = start(t, func(d, h int) string {
		di.state = stateDirFor(d)
		return fmt.Sprintf(`version: 1
state_dir: %s
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
  block_page: "127.0.0.1:%d"
  block_page_https: "127.0.0.1:%d"
access:
  allow: [127.0.0.0/8]
resolver:
  mode: forward
  upstreams: [{address: %s}]
blocking:
  page_addresses: [127.0.0.1]
lists:
  - {name: games, category: gaming, path: %s}
groups:
  - name: pupils
    block: [gaming]
    block_answer: blockpage
    deny: ["*.hostile.test"]
`, di.state, d, h, bp, bps, up, list)
	})
	// Accounts are made as "gatehouse users add" makes them: in the
	// state directory's database, while the server runs.
	st, err := store.OpenWith(store.Path(di.state), store.Options{HashMemoryKiB: 1024, HashPasses: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, r := range store.Roles() {
		if err := st.AddUser(context.Background(), string(r), r, dashPassword, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return di
}

func (di *dashInstance) login(t *testing.T, role store.Role) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(di.http+"/login", url.Values{"name": {string(role)}, "password": {dashPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path == "/login" {
		t.Fatalf("login as %s failed", role)
	}
	return c
}

func getBody(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDashboard_blockPageAndLog(t *testing.T) {
	di := startDashboard(t)

	// The blocked name is answered with the block page's address.
	r := query(t, "udp", di.dns, "games.example.org.")
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
		t.Fatalf("blocked answer: %v", r)
	}

	// The browser then asks the block page for that host.
	req, _ := http.NewRequest(http.MethodGet, "http://"+di.blockPage+"/some/path?q=1", nil)
	req.Host = "games.example.org"
	code, body := getBody(t, http.DefaultClient, req)
	if code != http.StatusForbidden || !strings.Contains(body, "games.example.org") || !strings.Contains(body, "gaming") {
		t.Fatalf("block page %d:\n%s", code, body)
	}
	ref := regexp.MustCompile(`<strong>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{5})</strong>`).FindStringSubmatch(body)
	if ref == nil {
		t.Fatalf("block page shows no reference:\n%s", body)
	}

	// A hostile Host header is not reflected.
	req, _ = http.NewRequest(http.MethodGet, "http://"+di.blockPage+"/", nil)
	req.Host = `<script>x</script>`
	if _, body := getBody(t, http.DefaultClient, req); strings.Contains(body, "<script>x") || !strings.Contains(body, "This site") {
		t.Error("hostile Host header reflected")
	}

	// Asking for a review stores a request technicians see.
	req, _ = http.NewRequest(http.MethodPost, "http://"+di.blockPage+"/", strings.NewReader(url.Values{"message": {"needed for <b>homework</b>"}}.Encode()))
	req.Host = "games.example.org"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, body := getBody(t, http.DefaultClient, req); code != http.StatusOK || !strings.Contains(body, "request was sent") {
		t.Fatalf("review request %d:\n%s", code, body)
	}
	tech := di.login(t, store.Technician)
	req, _ = http.NewRequest(http.MethodGet, di.http+"/reviews", nil)
	if _, body := getBody(t, tech, req); !strings.Contains(body, ref[1]) || !strings.Contains(body, "needed for &lt;b&gt;homework&lt;/b&gt;") {
		t.Errorf("review request not shown to the technician:\n%s", body)
	}

	// The blocked query is in the log, under the block page's reference,
	// and the reference as typed back finds it.
	req, _ = http.NewRequest(http.MethodGet, di.http+"/log?ref="+url.QueryEscape(strings.ToLower(ref[1])), nil)
	if _, body := getBody(t, tech, req); !strings.Contains(body, "games.example.org.") || !strings.Contains(body, "<strong>"+ref[1]+"</strong>") {
		t.Errorf("blocked query not found in the log page by its reference")
	}
	req, _ = http.NewRequest(http.MethodGet, di.http+"/status", nil)
	if code, body := getBody(t, tech, req); code != http.StatusOK || !strings.Contains(body, "games") || !strings.Contains(body, "All is well") {
		t.Errorf("status page %d", code)
	}

	// HTTPS to the block page is reset at once.
	conn, err := net.DialTimeout("tcp", di.blockPageHTTPS, 2*time.Second)
	if err == nil {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		// The reset is reported once: to the write if it comes first.
		if _, err = conn.Write([]byte("\x16\x03\x01\x00\x05hello")); err == nil {
			_, err = conn.Read(make([]byte, 10))
		}
		conn.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("HTTPS block page: read gave %v, want a connection reset", err)
	}

	// A broken config file is a problem on the status page, and the old
	// configuration keeps serving.
	good, err := os.ReadFile(di.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(di.path, append(good, []byte("cache: {size: lots}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload on the status page", func() bool {
		req, _ := http.NewRequest(http.MethodGet, di.http+"/status", nil)
		_, body := getBody(t, tech, req)
		return strings.Contains(body, "The last configuration reload failed") && strings.Contains(body, "cache.size")
	})

	// /metrics stays open to loopback without a session; pages do not.
	if m := metrics(t, di.instance); !strings.Contains(m, "gatehouse_server_queries_total") {
		t.Error("metrics not served to loopback")
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(di.http + "/log")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("/log without a session: %s", resp.Status)
	}
}

// TestDashboard_TLS serves the dashboard over HTTPS with a configured
// certificate: the session cookie is then Secure with the __Host- prefix.
func TestDashboard_TLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	up, _ := upstream(t)
	d, h := freePort(t), freePort(t)
	state := stateDirFor(d)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	redirect := freePort(t)
	cfgText := strings.Replace(siteConfig(d, h, up, "127.0.0.0/8"), "listen:\n", fmt.Sprintf("listen:\n  dashboard_redirect: \"127.0.0.1:%d\"\n", redirect), 1)
	os.WriteFile(cfgPath, []byte(cfgText+fmt.Sprintf("dashboard: {tls_cert: %s, tls_key: %s}\n", certFile, keyFile)), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncbuf.Buffer{}
	go func() { done <- run(ctx, []string{"gatehouse", "serve", "--config", cfgPath}, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	base := fmt.Sprintf("https://127.0.0.1:%d", h)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitFor(t, "the HTTPS dashboard", func() bool {
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	st, err := store.OpenWith(store.Path(state), store.Options{HashMemoryKiB: 1024, HashPasses: 1})
	if err != nil {
		t.Fatal(err)
	}
	st.AddUser(context.Background(), "admin", store.Admin, dashPassword, time.Now())
	st.Close()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(base+"/login", url.Values{"name": {"admin"}, "password": {dashPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(ck) != 1 || ck[0].Name != "__Host-gatehouse" || !ck[0].Secure || !ck[0].HttpOnly {
		t.Errorf("login over TLS: %s, cookies %+v", resp.Status, ck)
	}
	// A renewed certificate is served after `gatehouse lists reload` (as
	// after SIGHUP), with no restart.
	renewed := writeCertPair(t, certFile, keyFile, "renewed.test")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "lists", "reload", "--config", cfgPath}, &out, io.Discard); err != nil {
		t.Fatalf("lists reload: %v", err)
	}
	pool2 := x509.NewCertPool()
	pool2.AddCert(renewed)
	c2 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool2}}}
	if resp, err := c2.Get(base + "/healthz"); err != nil {
		t.Errorf("the renewed certificate is not served: %v", err)
	} else {
		resp.Body.Close()
	}
	// Plain HTTP on listen.dashboard_redirect is sent to the HTTPS
	// dashboard, same host and path.
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(fmt.Sprintf("http://127.0.0.1:%d/log?domain=x", redirect)); err != nil {
		t.Errorf("redirect listener: %v", err)
	} else {
		resp.Body.Close()
		if want := base + "/log?domain=x"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Errorf("redirect: %s to %q, want 302 to %q", resp.Status, resp.Header.Get("Location"), want)
		}
	}
	// Plain HTTP to the TLS port is not served.
	if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", h)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
}

func TestDashboard_metricsTokenFile(t *testing.T) {
	dir := t.TempDir()
	up, _ := upstream(t)
	d, h := freePort(t), freePort(t)
	for _, tc := range []struct{ token, want string }{
		{"short\n", "at least 16 characters"},
		{"two words are not a token\n", "without spaces"},
		{"", "at least 16 characters"},
	} {
		tok := filepath.Join(dir, "token")
		os.WriteFile(tok, []byte(tc.token), 0o600)
		cfgPath := filepath.Join(dir, "gatehouse.yaml")
		os.WriteFile(cfgPath, []byte(siteConfig(d, h, up, "127.0.0.0/8")+"dashboard: {metrics: {token_file: "+tok+"}}\n"), 0o644)
		err := run(context.Background(), []string{"gatehouse", "serve", "--config", cfgPath}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("token %q: %v, want an error with %q", tc.token, err, tc.want)
		}
	}
}

// TestDashboard_offMetricsToken: with the dashboard off, /metrics is still
// guarded, and the token works.
func TestDashboard_offMetricsToken(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("0123456789abcdef0123\n"), 0o600)
	up, _ := upstream(t)
	in := start(t, func(d, h int) string {
		return siteConfig(d, h, up, "127.0.0.0/8") + "dashboard: {enabled: false, metrics: {allow: [10.0.0.0/8], token_file: " + tok + "}}\n"
	})
	get := func(path, auth string) int {
		req, _ := http.NewRequest(http.MethodGet, in.http+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		code, _ := getBody(t, http.DefaultClient, req)
		return code
	}
	if c := get("/metrics", ""); c != http.StatusUnauthorized {
		t.Errorf("/metrics without the token from outside allow: %d", c)
	}
	if c := get("/metrics", "Bearer 0123456789abcdef0123"); c != http.StatusOK {
		t.Errorf("/metrics with the token: %d", c)
	}
	if c := get("/status", ""); c != http.StatusNotFound {
		t.Errorf("/status with the dashboard off: %d", c)
	}
	if _, err := os.Stat(store.Path(stateDirFor(portOf(t, in.dns)))); !os.IsNotExist(err) {
		t.Errorf("dashboard.db created with the dashboard off: %v", err)
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}
