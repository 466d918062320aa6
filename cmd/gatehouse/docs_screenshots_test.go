package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"gatehouse/dashboard/store"
	"gatehouse/internal/dnstest"
)

// TestBrowser_docsScreenshots draws the screenshots in docs/img from a
// site with a few devices, groups and lists. It is a generator, not a
// check: it runs only when GATEHOUSE_DOCS_SCREENSHOTS names the output
// directory:
//
//	GATEHOUSE_DOCS_SCREENSHOTS=$PWD/docs/img go test ./cmd/gatehouse -run docsScreenshots
func TestBrowser_docsScreenshots(t *testing.T) {
	out := os.Getenv("GATEHOUSE_DOCS_SCREENSHOTS")
	if out == "" {
		t.Skip("set GATEHOUSE_DOCS_SCREENSHOTS to a directory to draw the documentation's screenshots")
	}
	ctx := browser(t)
	up := dnstest.NewServer(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, dnstest.RR(t, r.Question[0].Name+" 300 IN A 192.0.2.10"))
		}
		w.WriteMsg(m)
	}))
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	games := write("games.txt", "games.example\nroblox.example\nminecraft-servers.example\n")
	social := write("social.txt", "tiktok.example\ninstagram.example\nsnapchat.example\n")
	iwf := write("iwf.txt", "illegal.example\n")
	leases := write("dnsmasq.leases", strings.Join([]string{
		"0 02:00:00:00:09:12 127.0.0.12 Y9-IPAD-12 *",
		"0 02:00:00:00:09:13 127.0.0.13 Y9-IPAD-13 *",
		"0 02:00:00:00:11:04 127.0.0.14 Y11-LAPTOP-04 *",
		"0 02:00:00:00:ff:01 127.0.0.21 STAFF-MSMITH *",
		"0 02:00:00:00:ee:01 127.0.0.31 GUEST-PHONE *",
	}, "\n")+"\n")
	bp := freePort(t)
	var state string
	in := start(t, func(d, h int) string {
		state = stateDirFor(d)
		return fmt.Sprintf(`version: 1
state_dir: %s
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
  block_page: "127.0.0.1:%d"
access:
  allow: [127.0.0.0/8]
resolver:
  mode: forward
  upstreams: [{address: %s}]
clients:
  leases: [{path: %s, format: dnsmasq}]
periods:
  - {name: lessons, weekly: ["Mon-Fri 08:40-15:20"], term_time_only: false}
blocking:
  page_addresses: [127.0.0.1]
lists:
  - {name: games, category: gaming, path: %s}
  - {name: social, category: social-media, path: %s}
  - {name: iwf, category: iwf, path: %s}
groups:
  - name: pupils
    description: Years 7 to 11
    match: {hostnames: ["Y*-*"]}
    block: [gaming]
    block_during: [{categories: [social-media], during: [lessons]}]
    block_answer: blockpage
  - name: staff
    match: {hostnames: ["STAFF-*"]}
    safe_search: {youtube: moderate}
  - name: guests
    match: {hostnames: ["GUEST-*"]}
    block: [gaming, social-media]
default_group: guests
`, state, d, h, bp, up, leases, games, social, iwf)
	})
	st, err := store.OpenWith(store.Path(state), store.Options{HashMemoryKiB: 1024, HashPasses: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(context.Background(), "j.bloggs", store.Admin, dashPassword, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Traffic from the devices, for about a minute, so the q/s chart has
	// a few samples (the dashboard samples every 10 s).
	from := func(addr, name string) {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(addr)}}}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		c.Exchange(m, in.dns)
	}
	devices := []string{"127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.21", "127.0.0.31"}
	names := []string{"www.bbc.example", "classroom.example", "www.wikipedia.example", "news.example", "maths.example",
		"games.example", "tiktok.example", "docs.example", "mail.example", "roblox.example"}
	deadline := time.Now().Add(55 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		from(devices[i%len(devices)], names[(i/len(devices)*3+i)%len(names)])
		if i%40 == 0 {
			from("127.0.0.12", "minecraft-servers.example")
		}
		time.Sleep(time.Duration(20+(i/50%4)*15) * time.Millisecond)
	}
	from("127.0.0.13", `<script>alert(1)</script>.example`)
	from("127.0.0.1", "games.example")

	// Long pages are shown as a browser window shows them, not whole.
	shotTo := func(tab context.Context, name string) {
		shoot := chromedp.FullScreenshot(100)
		if strings.HasPrefix(name, "log") || strings.HasPrefix(name, "device") || strings.HasPrefix(name, "status-phone") {
			shoot = chromedp.CaptureScreenshot()
		}
		png, err := chromedp.Run(tab, shoot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func(tab context.Context, url, sel string) {
		step(t, tab, "open "+url, goTo(url))
		waitFor(t, url, func() bool {
			return eval[bool](t, tab, fmt.Sprintf(`document.readyState === "complete" && document.querySelector(%q) !== null`, sel))
		})
	}
	step(t, ctx, "open the login page", chromedp.Navigate(in.http+"/login"), chromedp.WaitVisible(`input[name=name]`))
	step(t, ctx, "fill in the login", chromedp.SendKeys(`input[name=name]`, "j.bloggs"), chromedp.SendKeys(`input[name=password]`, dashPassword))
	submit(t, ctx, "log in", `form button`, "/status")

	for _, width := range []struct {
		suffix string
		w, h   int64
	}{{"", 1280, 800}, {"-phone", 390, 844}} {
		step(t, ctx, "viewport", chromedp.EmulateViewport(width.w, width.h))
		open(ctx, in.http+"/status", "section.tiles")
		shotTo(ctx, "status"+width.suffix)
		open(ctx, in.http+"/log?client=127.0.0.12", "details.entry")
		eval[bool](t, ctx, `document.querySelector("details.entry.bad").open = true; true`)
		shotTo(ctx, "log"+width.suffix)
		if width.suffix == "" {
			open(ctx, in.http+"/device?client=127.0.0.12", "dl.explain")
			shotTo(ctx, "device")
			open(ctx, in.http+"/reports?period=week", "figure.chart")
			shotTo(ctx, "report")
			open(ctx, in.http+"/policy", "form.override")
			shotTo(ctx, "policy")
			open(ctx, in.http+"/access-log", "table")
			shotTo(ctx, "access-log")
		}
	}
	pupil, closePupil := chromedp.NewContext(ctx)
	defer closePupil()
	if err := chromedp.Do(pupil); err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprintf(":%d", bp)
	step(t, pupil, "viewport", chromedp.EmulateViewport(1280, 700))
	open(pupil, "http://games.example"+port+"/", "textarea")
	shotTo(pupil, "blockpage")
	step(t, pupil, "viewport", chromedp.EmulateViewport(390, 844))
	open(pupil, "http://games.example"+port+"/", "textarea")
	shotTo(pupil, "blockpage-phone")
}
