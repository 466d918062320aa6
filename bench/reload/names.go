//go:build linux

package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// benchZone holds the names the harness's authority answers; everything
// else it refuses, so no query can leave the machine.
const benchZone = "bench.test."

var (
	tlds       = []string{"com", "com", "com", "com", "net", "org", "co.uk", "de", "ru", "info", "xyz", "top", "io", "fr", "nl", "com.br", "pl", "tk"}
	subs       = []string{"www", "cdn", "api", "m", "static", "img", "ads", "track", "media", "login"}
	consonants = "bcdfghjklmnprstvwz"
	vowels     = "aeiou"
)

// listName appends one realistic list entry (pronounceable labels, a TLD
// mix, a quarter with a subdomain) without a trailing dot.
func listName(b []byte, rng *rand.Rand) []byte {
	if rng.IntN(4) == 0 {
		b = append(b, subs[rng.IntN(len(subs))]...)
		b = append(b, '.')
	}
	for i := range 5 + rng.IntN(8) {
		if i%2 == 0 {
			b = append(b, consonants[rng.IntN(len(consonants))])
		} else {
			b = append(b, vowels[rng.IntN(len(vowels))])
		}
	}
	b = fmt.Appendf(b, "%d.", rng.IntN(1000))
	return append(b, tlds[rng.IntN(len(tlds))]...)
}

// marker is the name only version v of the list blocks; the authority
// answers it when no version blocks it.
func marker(v int) string { return fmt.Sprintf("marker%d.list.%s", v, benchZone) }

// answered is the i-th name of the answered kind, and its address.
func answered(i int) (string, netip.Addr) {
	return fmt.Sprintf("www.site%d.%s", i, benchZone), netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
}

// writeList writes version v of the list to path: n-1 names, the same in
// every version, and v's marker. It goes to a temporary file in the same
// directory that is renamed over path, so a watcher never sees it half
// written. It returns every step-th listed name (without the marker), for
// the blocked half of the queries.
func writeList(path string, n, v, step int) ([]string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".list-*")
	if err != nil {
		return nil, fmt.Errorf("writing list: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	w := bufio.NewWriterSize(tmp, 1<<16)
	fmt.Fprintf(w, "# reload benchmark list, version %d\n", v)
	rng := rand.New(rand.NewPCG(uint64(n), 4))
	var picked []string
	var b []byte
	for i := range n - 1 {
		b = listName(b[:0], rng)
		if step > 0 && i%step == 0 {
			picked = append(picked, string(b)+".")
		}
		b = append(b, '\n')
		w.Write(b)
	}
	w.WriteString(strings.TrimSuffix(marker(v), ".") + "\n")
	if err := w.Flush(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("writing list: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing list: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("replacing list: %w", err)
	}
	return picked, nil
}

// dnsperfInput interleaves answered and blocked names, "name A" per line.
func dnsperfInput(blocked []string, k int) string {
	var sb strings.Builder
	for i := range k {
		name, _ := answered(i)
		fmt.Fprintf(&sb, "%s A\n%s A\n", strings.TrimSuffix(name, "."), strings.TrimSuffix(blocked[i%len(blocked)], "."))
	}
	return sb.String()
}
