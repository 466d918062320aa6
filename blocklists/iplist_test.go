package blocklists

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/addrkey"
)

func TestParseAddrLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want string // "" for no entry
		err  error
	}{
		{"192.0.2.1", "192.0.2.1/32", nil},
		{"  192.0.2.1\t", "192.0.2.1/32", nil},
		{"192.0.2.1 # comment", "192.0.2.1/32", nil},
		{"192.0.2.0/24;SBL", "192.0.2.0/24", nil},
		{"10.9.8.7/8", "10.0.0.0/8", nil},
		{"2001:DB8::1", "2001:db8::1/128", nil},
		{"2001:db8::ff/32", "2001:db8::/32", nil},
		{"::ffff:192.0.2.1", "192.0.2.1/32", nil},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", nil},
		{"0.0.0.0/0", "0.0.0.0/0", nil},
		{"::/0", "::/0", nil},
		{"", "", nil},
		{"   ", "", nil},
		{"# only a comment", "", nil},
		{"; only a comment", "", nil},
		{"192.0.2.1 192.0.2.2", "", errAddrTrailing},
		{"example.com", "", errNotAddress},
		{"192.0.2.256", "", errNotAddress},
		{"192.0.2.0/33", "", errNotAddress},
		{"2001:db8::/129", "", errNotAddress},
		{"::ffff:0:0/95", "", errNotAddress},
		{"fe80::1%eth0", "", errAddrZone},
		{"192.0.2.1-192.0.2.9", "", ErrUnsupported},
		{"0x7f.1", "", errNotAddress},
		{"1.2.3", "", errNotAddress},
	} {
		p, ok, err := parseAddrLine([]byte(tc.line))
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: error %v, want %v", tc.line, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: unexpected error %v", tc.line, err)
		case tc.want == "" && ok:
			t.Errorf("%q: entry %v, want none", tc.line, p)
		case tc.want != "" && (!ok || p.String() != tc.want):
			t.Errorf("%q: got %v (ok %v), want %s", tc.line, p, ok, tc.want)
		}
	}
}

func TestParseFormat_addresses(t *testing.T) {
	for _, s := range []string{"cidr", "ip"} {
		if f, err := ParseFormat(s); err != nil || f != Addresses {
			t.Errorf("ParseFormat(%q) = %v, %v", s, f, err)
		}
	}
	if f, _ := ParseFormat("cidr"); f.String() != "cidr" {
		t.Errorf("Addresses.String() = %q", f.String())
	}
}

// TestGolden_addresses dumps every testdata/addrs/*.txt as parsed: the
// entries in file order with their lines, then the issues with
// source:line. Regenerate with -update.
func TestGolden_addresses(t *testing.T) {
	files, err := filepath.Glob("testdata/addrs/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var entries, issues []string
			for e, err := range ParseAddresses(bytes.NewReader(in), filepath.Base(f)) {
				if err != nil {
					issues = append(issues, err.Error())
					continue
				}
				entries = append(entries, fmt.Sprintf("%d\t%s", e.Line, e.Prefix))
			}
			var b strings.Builder
			fmt.Fprintf(&b, "# entries: %d\n", len(entries))
			for _, e := range entries {
				b.WriteString(e + "\n")
			}
			fmt.Fprintf(&b, "# issues: %d\n", len(issues))
			for _, i := range issues {
				b.WriteString(i + "\n")
			}
			golden := filepath.Join("testdata", "golden", "addrs-"+name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("dump of %s differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", f, golden, got, want)
			}
		})
	}
}

func ipSetOf(t testing.TB, specs ...IPListSpec) *IPSet {
	t.Helper()
	s, err := BuildIPSet(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ipSpec(id ListID, name string, c Category, text string) IPListSpec {
	return IPListSpec{ID: id, Name: name, Category: c, Sources: []Source{BytesSource(name+".txt", []byte(text), Addresses)}}
}

func TestIPSet_Match(t *testing.T) {
	s := ipSetOf(t,
		ipSpec(3, "malware-ips", Malware, "10.0.0.0/8\n10.1.0.0/16\n10.1.2.3\n2001:db8::/32\n2001:db8:1::/48\n"),
		ipSpec(1, "ads-ips", Gambling, "10.1.0.0/16\n192.0.2.0/24\n"),
		ipSpec(5, "iwf-ips", IWF, "198.51.100.7\n"),
	)
	all := MaskOf(1, 3)
	for _, tc := range []struct {
		addr  string
		block Mask
		list  string
		entry string
		line  int
	}{
		{"10.1.2.3", MaskOf(3), "malware-ips", "10.1.2.3", 3},
		{"10.1.2.4", MaskOf(3), "malware-ips", "10.1.0.0/16", 2},
		{"10.2.0.1", MaskOf(3), "malware-ips", "10.0.0.0/8", 1},
		{"10.255.255.255", MaskOf(3), "malware-ips", "10.0.0.0/8", 1},
		{"11.0.0.0", MaskOf(3), "", "", 0},
		{"9.255.255.255", MaskOf(3), "", "", 0},
		{"::ffff:10.1.2.3", MaskOf(3), "malware-ips", "10.1.2.3", 3}, // mapped
		{"10.1.2.3", all, "ads-ips", "10.1.0.0/16", 1},               // lowest list explains
		{"10.1.2.3", MaskOf(1), "ads-ips", "10.1.0.0/16", 1},
		{"10.2.0.1", MaskOf(1), "", "", 0},
		{"10.1.2.3", 0, "", "", 0}, // not selected
		{"2001:db8:1:2::1", MaskOf(3), "malware-ips", "2001:db8:1::/48", 5},
		{"2001:db8:2::1", MaskOf(3), "malware-ips", "2001:db8::/32", 4},
		{"2001:db9::1", MaskOf(3), "", "", 0},
		{"198.51.100.7", 0, "iwf-ips", "198.51.100.7", 1}, // locked: always
		{"198.51.100.8", all, "", "", 0},
	} {
		m, ok := s.Match(netip.MustParseAddr(tc.addr), tc.block)
		if ok != (tc.list != "") || ok && (m.Name != tc.list || m.Entry() != tc.entry || m.Line != tc.line) {
			t.Errorf("Match(%s, %b) = %+v %v, want %s %s line %d", tc.addr, tc.block, m, ok, tc.list, tc.entry, tc.line)
		}
	}
	if m, _ := s.Match(netip.MustParseAddr("198.51.100.7"), all); !m.Locked || m.Category != IWF {
		t.Errorf("locked match = %+v", m)
	}
	if got := s.CategoryMask(Malware); got != MaskOf(3) {
		t.Errorf("CategoryMask(Malware) = %b", got)
	}
	if s.ListName(1) != "ads-ips" || s.ListName(2) != "" || s.Len() != 8 {
		t.Errorf("ListName/Len wrong: %q %q %d", s.ListName(1), s.ListName(2), s.Len())
	}
	if hits := s.Explain(netip.MustParseAddr("10.1.9.9")); len(hits) != 2 || hits[0].Name != "ads-ips" || hits[1].Entry() != "10.1.0.0/16" {
		t.Errorf("Explain = %+v", hits)
	}
}

func TestIPSet_statsAndErrors(t *testing.T) {
	s := ipSetOf(t, ipSpec(0, "l", Malware, "192.0.2.1\n192.0.2.1/32\nbad\n1.2.3.4-1.2.3.5\n# c\n"))
	info := s.Lists()[0]
	if info.Entries != 1 || info.Stats.Duplicates != 1 || info.Stats.Invalid != 1 || info.Stats.Unsupported != 1 || info.Stats.Lines != 5 {
		t.Errorf("info = %+v", info)
	}
	if len(info.Issues) != 2 || info.Issues[0].Error() != `l.txt:3: not an IP address or CIDR prefix: "bad"` {
		t.Errorf("issues = %v", info.Issues)
	}
	for _, bad := range [][]IPListSpec{
		{ipSpec(64, "x", Malware, "")},
		{ipSpec(1, "x", Malware, ""), ipSpec(1, "y", Malware, "")},
		{ipSpec(1, "x", Malware, ""), ipSpec(2, "x", Malware, "")},
		{ipSpec(1, "x", 0, "")},
		{{ID: 1, Name: "x", Category: Malware}},
		{{ID: 1, Name: "x", Category: Malware, Sources: []Source{BytesSource("x", nil, Domains)}}},
		{{ID: 1, Name: "x", Category: Malware, Sources: []Source{FileSource("/nonexistent/x", Addresses)}}},
	} {
		if _, err := BuildIPSet(bad, nil); err == nil {
			t.Errorf("BuildIPSet(%+v) accepted", bad)
		}
	}
	// A name Set refuses address lists.
	b := NewBuilder(nil)
	if _, err := b.Add(ListSpec{ID: 0, Name: "x", Category: Malware, Sources: []Source{BytesSource("x", []byte("10.0.0.0/8"), Addresses)}}); err == nil {
		t.Error("Builder.Add accepted an address list")
	}
	// Keep carries a list over, under its new ID; a list that was not
	// there is left out.
	kept, err := BuildIPSet([]IPListSpec{{ID: 9, Name: "l", Category: Malware, Keep: true}, {ID: 8, Name: "new", Category: Malware, Keep: true}}, s)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := kept.Match(netip.MustParseAddr("192.0.2.1"), MaskOf(9)); !ok || m.List != 9 || len(kept.Lists()) != 1 {
		t.Errorf("kept list: %+v %v, %d lists", m, ok, len(kept.Lists()))
	}
	var nilSet *IPSet
	if _, ok := nilSet.Match(netip.MustParseAddr("10.0.0.1"), ^Mask(0)); ok {
		t.Error("nil IPSet matched")
	}
}

// naiveMatch is the obvious reference: the longest prefix of the lowest
// list holding a.
func naiveMatch(lists [][]netip.Prefix, a netip.Addr) (int, netip.Prefix) {
	for i, l := range lists {
		best := netip.Prefix{}
		for _, p := range l {
			if p.Contains(a) && (!best.IsValid() || p.Bits() > best.Bits()) {
				best = p
			}
		}
		if best.IsValid() {
			return i, best
		}
	}
	return -1, netip.Prefix{}
}

func randPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(3) == 0 {
		var b [16]byte
		b[0], b[1], b[2] = 0x20, 0x01, byte(r.IntN(4))
		b[3] = byte(r.IntN(256))
		return netip.PrefixFrom(netip.AddrFrom16(b), 16+r.IntN(113)).Masked()
	}
	// A small space so prefixes nest and collide often.
	a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(8)), byte(r.IntN(256))})
	return netip.PrefixFrom(a, 8+r.IntN(25)).Masked()
}

func TestIPSet_matchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		lists := make([][]netip.Prefix, 1+r.IntN(3))
		var specs []IPListSpec
		for i := range lists {
			var b strings.Builder
			for range r.IntN(40) {
				p := randPrefix(r)
				lists[i] = append(lists[i], p)
				b.WriteString(p.String() + "\n")
			}
			specs = append(specs, ipSpec(ListID(i), fmt.Sprint("l", i), Malware, b.String()))
		}
		s := ipSetOf(t, specs...)
		for range 200 {
			a := randPrefix(r).Addr()
			if r.IntN(2) == 0 && len(lists[0]) > 0 {
				// Addresses inside a listed prefix, at its edges too.
				p := lists[0][r.IntN(len(lists[0]))]
				a = p.Addr()
				if r.IntN(2) == 0 {
					_, last := addrkey.Range(p)
					b := [16]byte{}
					for i := range 8 {
						b[i] = byte(last.Hi >> (56 - 8*i))
						b[8+i] = byte(last.Lo >> (56 - 8*i))
					}
					a = netip.AddrFrom16(b).Unmap()
				}
			}
			wantList, wantP := naiveMatch(lists, a)
			m, ok := s.Match(a, ^Mask(0))
			if ok != (wantList >= 0) || ok && (int(m.List) != wantList || m.Prefix != wantP) {
				t.Fatalf("round %d: Match(%s) = %v %v, want list %d %v", round, a, m.Prefix, ok, wantList, wantP)
			}
		}
	}
}

func TestIPSet_matchDoesNotAllocate(t *testing.T) {
	s := ipSetOf(t, ipSpec(2, "l", Malware, "10.0.0.0/8\n10.1.0.0/16\n2001:db8::/32\n"))
	a := netip.MustParseAddr("10.1.2.3")
	if n := testing.AllocsPerRun(100, func() { s.Match(a, MaskOf(2)) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

func FuzzParseAddresses(f *testing.F) {
	if files, _ := filepath.Glob("testdata/addrs/*.txt"); len(files) > 0 {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{"10.0.0.0/8\n", "::ffff:1.2.3.4/120\n", "1::/0 #\n", "\xFF\xFE1", "a;b#c\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Count(in, []byte("\n")) + 1
		var prefixes []netip.Prefix
		for e, err := range ParseAddresses(bytes.NewReader(in), "fuzz") {
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > lines {
					t.Fatalf("bad issue %v", err)
				}
				continue
			}
			if e.Line < 1 || e.Line > lines || e.Prefix != e.Prefix.Masked() || e.Prefix.Addr().Is4In6() || e.Prefix.Addr().Zone() != "" {
				t.Fatalf("bad entry %+v", e)
			}
			prefixes = append(prefixes, e.Prefix)
		}
		s, err := BuildIPSet([]IPListSpec{ipSpec(0, "f", Malware, string(in))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prefixes {
			m, ok := s.Match(p.Addr(), 1)
			if !ok || !m.Prefix.Contains(p.Addr()) || m.Prefix.Bits() < p.Bits() {
				t.Fatalf("entry %v: Match = %+v %v", p, m, ok)
			}
		}
	})
}

func BenchmarkIPSet_Match(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var text strings.Builder
	for range 100_000 {
		fmt.Fprintf(&text, "%d.%d.%d.0/24\n", 1+r.IntN(220), r.IntN(256), r.IntN(256))
	}
	s := ipSetOf(b, ipSpec(0, "big", Malware, text.String()))
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(1 + r.IntN(220)), byte(r.IntN(256)), byte(r.IntN(256)), 1})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Match(addrs[i&1023], 1)
		i++
	}
}
