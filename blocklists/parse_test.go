package blocklists

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// collect parses in and renders every result as one line: "LINE kind
// action name" for entries, "LINE invalid" or "LINE unsupported" for issues.
func collect(t *testing.T, in string, f Format) []string {
	t.Helper()
	var got []string
	for e, err := range Parse(strings.NewReader(in), "test.txt", f) {
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse yielded a non-ParseError: %v", err)
			}
			if pe.Source != "test.txt" {
				t.Errorf("ParseError.Source = %q, want test.txt", pe.Source)
			}
			kind := "invalid"
			if pe.Unsupported() {
				kind = "unsupported"
			}
			got = append(got, fmt.Sprintf("%d %s", pe.Line, kind))
			continue
		}
		got = append(got, fmt.Sprintf("%d %s %s %s", e.Line, e.Kind, e.Action, e.Name))
	}
	return got
}

type parseCase struct {
	name string
	in   string
	want []string
}

func runParseCases(t *testing.T, f Format, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, tc.in, f)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Parse(%q, %v) =\n  %s\nwant\n  %s", tc.in, f, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestParse_hosts(t *testing.T) {
	runParseCases(t, Hosts, []parseCase{
		{"basic", "0.0.0.0 ads.example.com\n", []string{"1 subtree block ads.example.com."}},
		{"several names", "0.0.0.0 a.example.com\tb.example.com  c.example.com\n",
			[]string{"1 subtree block a.example.com.", "1 subtree block b.example.com.", "1 subtree block c.example.com."}},
		{"other addresses", "127.0.0.1 a.com\n::1 b.com\n:: c.com\n192.0.2.1 d.com\nfe80::1%lo0 e.com\n",
			[]string{"1 subtree block a.com.", "2 subtree block b.com.", "3 subtree block c.com.", "4 subtree block d.com.", "5 subtree block e.com."}},
		{"comments and blanks", "# header\n\n   \n! adblock-style\n; semicolon\n0.0.0.0 a.com # trailing\n0.0.0.0 b.com#tight\n",
			[]string{"6 subtree block a.com.", "7 subtree block b.com."}},
		{"CRLF and BOM", "\xEF\xBB\xBF0.0.0.0 a.com\r\n0.0.0.0 b.com\r\n", []string{"1 subtree block a.com.", "2 subtree block b.com."}},
		{"no final newline", "0.0.0.0 a.com", []string{"1 subtree block a.com."}},
		{"case and trailing dot", "0.0.0.0 ADS.Example.COM.\n", []string{"1 subtree block ads.example.com."}},
		{"unicode to punycode", "0.0.0.0 Bücher.de\n0.0.0.0 пример.рф\n",
			[]string{"1 subtree block xn--bcher-kva.de.", "2 subtree block xn--e1afmkfd.xn--p1ai."}},
		{"underscore and odd hyphens", "0.0.0.0 _dmarc.example.com r3---sn-x.example.com -a-.example.com\n",
			[]string{"1 subtree block _dmarc.example.com.", "1 subtree block r3---sn-x.example.com.", "1 subtree block -a-.example.com."}},
		{"system names skipped", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n255.255.255.255 broadcasthost\n0.0.0.0 0.0.0.0\n127.0.0.1 localhost.localdomain LOCAL\n", nil},
		{"address only", "0.0.0.0\n0.0.0.0 a.com\n", []string{"1 invalid", "2 subtree block a.com."}},
		{"address as name", "0.0.0.0 192.0.2.1\n", []string{"1 unsupported"}},
		{"bad names keep the rest of the line", "0.0.0.0 bad..name good.com\n0.0.0.0 sp@ce.com\n",
			[]string{"1 invalid", "1 subtree block good.com.", "2 invalid"}},
		{"long label", "0.0.0.0 " + strings.Repeat("a", 64) + ".com\n0.0.0.0 " + strings.Repeat("a", 63) + ".com\n",
			[]string{"1 invalid", "2 subtree block " + strings.Repeat("a", 63) + ".com."}},
		{"long name", "0.0.0.0 " + strings.Repeat("abcdefghi.", 25) + "coma\n0.0.0.0 " + strings.Repeat("abcdefghi.", 24) + "com\n",
			[]string{"1 invalid", "2 subtree block " + strings.Repeat("abcdefghi.", 24) + "com."}},
		{"numeric TLD", "0.0.0.0 a.123\n", []string{"1 invalid"}},
		{"domain lines accepted too", "a.com\n*.b.com\n", []string{"1 subtree block a.com.", "2 children block b.com."}},
		{"UTF-16 refused", "\xFF\xFE0\x00.\x00", []string{"1 invalid"}},
	})
}

func TestParse_domains(t *testing.T) {
	runParseCases(t, Domains, []parseCase{
		{"plain", "example.com\n", []string{"1 subtree block example.com."}},
		{"wildcard", "*.example.com\n", []string{"1 children block example.com."}},
		{"leading dot", ".example.com\n", []string{"1 subtree block example.com."}},
		{"comments", "# a\n! b\n; c\nexample.com # d\nexample.org;e\n", []string{"4 subtree block example.com.", "5 subtree block example.org."}},
		{"indent and tabs", "  \texample.com\t \n", []string{"1 subtree block example.com."}},
		{"IP line", "192.0.2.1\n", []string{"1 unsupported"}},
		{"URL", "http://example.com/path\nexample.com/ads\n", []string{"1 unsupported", "2 unsupported"}},
		{"two names", "a.com b.com\n", []string{"1 invalid"}},
		{"match everything", "*\n*.\n.\n", []string{"1 invalid", "2 invalid", "3 invalid"}},
		{"wildcard inside", "ads.*.example.com\nads*.example.com\n", []string{"1 unsupported", "2 unsupported"}},
		{"port", "example.com:443\n", []string{"1 invalid"}},
		{"double dot", "example..com\n..com\n", []string{"1 invalid", "2 invalid"}},
		{"single label", "zip\n", []string{"1 subtree block zip."}},
		{"digits in labels", "123movies.com\n1.2.3.com\n", []string{"1 subtree block 123movies.com.", "2 subtree block 1.2.3.com."}},
		{"unicode", "ÉCOLE.fr\n", []string{"1 subtree block xn--cole-9oa.fr."}},
		{"bad unicode", "a\u202eb.com\n", []string{"1 invalid"}},
	})
}

func TestParse_adblock(t *testing.T) {
	runParseCases(t, Adblock, []parseCase{
		{"subtree", "||example.com^\n", []string{"1 subtree block example.com."}},
		{"exception", "@@||example.com^\n", []string{"1 subtree allow example.com."}},
		{"exact", "|example.com^\n@@|example.org^\n", []string{"1 exact block example.com.", "2 exact allow example.org."}},
		{"children", "||*.example.com^\n", []string{"1 children block example.com."}},
		{"no separator", "||example.com\n|example.org|\n", []string{"1 subtree block example.com.", "2 exact block example.org."}},
		{"end anchor", "||example.com^|\n", []string{"1 subtree block example.com."}},
		{"accepted modifiers", "||a.com^$important\n||b.com^$all\n||c.com^$document,important\n||d.com^$DOC\n",
			[]string{"1 subtree block a.com.", "2 subtree block b.com.", "3 subtree block c.com.", "4 subtree block d.com."}},
		{"unsupported modifiers", "||a.com^$third-party\n||b.com^$important,script\n||c.com^$dnstype=AAAA\n@@||d.com^$badfilter\n||e.com^$~third-party\n",
			[]string{"1 unsupported", "2 unsupported", "3 unsupported", "4 unsupported", "5 unsupported"}},
		{"comments and headers", "[Adblock Plus 2.0]\n! Title: x\n# hosts-style comment\n\n||a.com^\n", []string{"5 subtree block a.com."}},
		{"cosmetic", "example.com##.ad\n##.banner\nexample.com#@#.ad\nexample.com#?#div:has(x)\nexample.com#$#body{}\nexample.com$$script\n",
			[]string{"1 unsupported", "2 unsupported", "3 unsupported", "4 unsupported", "5 unsupported", "6 unsupported"}},
		{"regex", "/ads[0-9]+\\.example\\.com/\n", []string{"1 unsupported"}},
		{"paths and ports", "||example.com/ads^\n||example.com^*/track\n||example.com:8080^\n|https://example.com^\n",
			[]string{"1 unsupported", "2 unsupported", "3 unsupported", "4 unsupported"}},
		{"wildcard inside", "||ad*.example.com^\n", []string{"1 unsupported"}},
		{"bare names", "example.com\nexample.org^\n@@example.net\nads\n",
			[]string{"1 subtree block example.com.", "2 subtree block example.org.", "3 subtree allow example.net.", "4 unsupported"}},
		{"hosts lines", "0.0.0.0 a.com b.com\n127.0.0.1 localhost\n", []string{"1 subtree block a.com.", "1 subtree block b.com."}},
		{"case, unicode, CRLF", "||ExAmple.COM^\r\n||пример.рф^\r\n", []string{"1 subtree block example.com.", "2 subtree block xn--e1afmkfd.xn--p1ai."}},
		{"empty rules", "||^\n@@||\n|*^\n", []string{"1 invalid", "2 invalid", "3 invalid"}},
		{"invalid name", "||exa_mple..com^\n", []string{"1 invalid"}},
	})
}

const rpzZone = `$TTL 300
$ORIGIN rpz.example.org.
@ IN SOA ns.example.org. admin.example.org. (
        1 3600 600 86400 60 ) ; multi-line SOA
  IN NS ns.example.org.
bad.com CNAME .
*.bad.com CNAME .
nodata.com 300 IN CNAME *.
ok.bad.com CNAME rpz-passthru.
drop.com IN 60 CNAME rpz-drop.
tcp.com CNAME rpz-tcp-only.
abs.com.rpz.example.org. CNAME .
outside.com. CNAME .
32.1.2.0.192.rpz-ip CNAME .
ns.evil.com.rpz-nsdname CNAME .
24.0.0.168.192.rpz-client-ip CNAME .
local.com A 192.0.2.1
rewrite.com CNAME safe.example.net.
   TXT "reason; not a comment"
UPPER.Example.COM CNAME .
; a comment
$INCLUDE other.zone
$ORIGIN sub
x CNAME .
$BOGUS
`

func TestParse_rpz(t *testing.T) {
	runParseCases(t, RPZ, []parseCase{
		{"zone", rpzZone, []string{
			"6 exact block bad.com.",
			"7 children block bad.com.",
			"8 exact nodata nodata.com.",
			"9 exact allow ok.bad.com.",
			"10 exact block drop.com.",
			"11 unsupported",
			"12 exact block abs.com.",
			"13 invalid",
			"14 unsupported",
			"15 unsupported",
			"16 unsupported",
			"17 unsupported",
			"18 unsupported",
			"19 unsupported",
			"20 exact block upper.example.com.",
			"22 unsupported",
			"24 exact block x.sub.",
			"25 invalid",
		}},
		{"apex from SOA owner without origin", "rpz.local. 60 IN SOA ns. admin. 1 2 3 4 5\nrpz.local. NS ns.\nbad.com.rpz.local. CNAME .\nbad.org CNAME .\n",
			[]string{"3 exact block bad.com.", "4 invalid"}},
		{"no origin at all", "bad.com CNAME .\n*.bad.org. CNAME *.\n",
			[]string{"1 exact block bad.com.", "2 children nodata bad.org."}},
		{"apex is case-insensitive", "$ORIGIN RPZ.Local.\nBad.com.rpz.LOCAL. CNAME .\n", []string{"2 exact block bad.com."}},
		{"whole-zone wildcard", "$ORIGIN rpz.\n*.rpz. CNAME .\n", []string{"2 invalid"}},
		{"bad CNAME", "$ORIGIN rpz.\na CNAME\nb CNAME . extra\n", []string{"2 invalid", "3 invalid"}},
		{"record without type", "$ORIGIN rpz.\na 300 IN\n", []string{"2 invalid"}},
		{"continuation without owner", "  CNAME .\n", []string{"1 invalid"}},
		{"unclosed parenthesis", "@ SOA ns. admin. ( 1 2\n", []string{"1 invalid"}},
		{"stray parenthesis", "a CNAME . )\n", []string{"1 invalid"}},
		{"lookalike label is not a trigger", "$ORIGIN rpz.\nnot-rpz-ip CNAME .\n", []string{"2 exact block not-rpz-ip."}},
	})
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Format
	}{
		{"hosts", "# StevenBlack\n127.0.0.1 localhost\n0.0.0.0 a.com\n0.0.0.0 b.com\n", Hosts},
		{"domains", "# list\na.com\nb.com\n", Domains},
		{"domains with adblock comments", "! Title\na.com\n", Domains},
		{"adblock header", "[Adblock Plus 2.0]\n! x\n||a.com^\n", Adblock},
		{"adblock exception first", "@@||a.com^\n", Adblock},
		{"adblock bare with caret", "a.com^\n", Adblock},
		{"rpz ttl", "$TTL 60\n@ SOA a. b. 1 2 3 4 5\n", RPZ},
		{"rpz soa first", "@ IN SOA a. b. 1 2 3 4 5\n", RPZ},
		{"rpz records only", "bad.com CNAME .\n", RPZ},
		{"empty", "", Domains},
		{"BOM", "\xEF\xBB\xBF||a.com^\n", Adblock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &countSink{}
			got, _, err := scan(strings.NewReader(tc.in), "x", Auto, s)
			if err != nil || got != tc.want {
				t.Errorf("scan(%q, Auto) detected %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// countSink counts what scan finds.
type countSink struct{ entries, issues, skips int }

func (s *countSink) entry([]byte, Kind, Action, int) { s.entries++ }
func (s *countSink) issue(int, error, []byte)        { s.issues++ }
func (s *countSink) skipped(int)                     { s.skips++ }
func (s *countSink) stopped() bool                   { return false }

func TestParse_longLine(t *testing.T) {
	in := "a.com\n" + strings.Repeat("x", readBufSize+10) + "\nb.com\n"
	got := collect(t, in, Domains)
	want := []string{"1 subtree block a.com.", "2 invalid", "3 subtree block b.com."}
	if !slices.Equal(got, want) {
		t.Errorf("Parse(long line) = %q, want %q", got, want)
	}
}

func TestParse_readError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("a.com\n"), iotest.ErrReader(errors.New("boom")))
	var entries int
	var last error
	for _, err := range Parse(r, "src", Domains) {
		if err == nil {
			entries++
		}
		last = err
	}
	var pe *ParseError
	if entries != 1 || last == nil || errors.As(last, &pe) || !strings.Contains(last.Error(), "boom") {
		t.Errorf("Parse(failing reader): %d entries, last error %v; want 1 entry then the read error", entries, last)
	}
}

func TestParse_stopEarly(t *testing.T) {
	n := 0
	for range Parse(strings.NewReader("a.com\nb.com\nc.com\n"), "src", Domains) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("iterations = %d, want 2", n)
	}
}

func TestParseError_Error(t *testing.T) {
	var got []string
	for _, err := range Parse(strings.NewReader("ok.com\nbad..com\n"), "lists/x.txt", Domains) {
		if err != nil {
			got = append(got, err.Error())
		}
	}
	want := []string{`lists/x.txt:2: empty label: "bad..com"`}
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"Example.COM", "example.com.", false},
		{"example.com.", "example.com.", false},
		{"xn--bcher-kva.de", "xn--bcher-kva.de.", false},
		{"BÜCHER.de", "xn--bcher-kva.de.", false},
		{"faß.de", "xn--fa-hia.de.", false},    // non-transitional, as browsers
		{"ｅｘａｍｐｌｅ．com", "example.com.", false}, // full-width forms map
		{"_sip._tcp.example.com", "_sip._tcp.example.com.", false},
		{"", "", true},
		{".", "", true},
		{"a..b", "", true},
		{"a b.com", "", true},
		{"*.example.com", "", true},
		{"192.0.2.1", "", true},
		{strings.Repeat("a", 64), "", true},
	}
	for _, tc := range tests {
		got, err := Canonical(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Canonical(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for f := Auto; f <= RPZ; f++ {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", f.String(), got, err, f)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("ParseFormat(csv) succeeded, want error")
	}
}

func TestCategories(t *testing.T) {
	all := Categories()
	if len(all) != 21 {
		t.Fatalf("len(Categories()) = %d, want 21", len(all))
	}
	seen := map[string]bool{}
	for _, c := range all {
		if !c.Valid() || seen[c.String()] || c.Title() == "" {
			t.Errorf("category %d: valid %v, name %q (dup %v), title %q", c, c.Valid(), c.String(), seen[c.String()], c.Title())
		}
		seen[c.String()] = true
		got, err := ParseCategory(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCategory(%q) = %v, %v; want %v", c.String(), got, err, c)
		}
		wantLocked := c == IWF || c == CTIRU
		if c.Locked() != wantLocked {
			t.Errorf("%v.Locked() = %v, want %v", c, c.Locked(), wantLocked)
		}
	}
	for _, c := range all {
		err := CheckOverride(c)
		if c.Locked() != errors.Is(err, ErrLocked) {
			t.Errorf("CheckOverride(%v) = %v", c, err)
		}
	}
	var c Category
	if err := c.UnmarshalText([]byte("adult")); err == nil {
		t.Error(`UnmarshalText("adult") succeeded, want unknown category`)
	}
	if err := c.UnmarshalText([]byte("self-harm")); err != nil || c != SelfHarm {
		t.Errorf(`UnmarshalText("self-harm") = %v, %v`, c, err)
	}
	if Category(0).Valid() || Category(0).Locked() {
		t.Error("zero Category is valid or locked")
	}
}

func TestLastDot(t *testing.T) {
	for _, s := range []string{"", ".", "a", "a.", ".a", "abcdefgh", "abcdefg.", ".bcdefgh", "a.b.c.d.e.f.g.h.i",
		"abcdefghijklmnop", "abcdefgh.jklmnop", "abcdefghi.klmnopq", "x.abcdefghijklmnopqrstuvwxyz", "\xae\xae.\xae", "..", "a\x2e\x2fb"} {
		if got, want := lastDot(s), strings.LastIndexByte(s, '.'); got != want {
			t.Errorf("lastDot(%q) = %d, want %d", s, got, want)
		}
	}
}
