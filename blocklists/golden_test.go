package blocklists

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// recordSink keeps what scan finds, for golden dumps.
type recordSink struct {
	source  string
	entries []string
	issues  []string
	skips   int
}

func (s *recordSink) entry(name []byte, kind Kind, act Action, _ int) {
	s.entries = append(s.entries, Entry{Name: string(name), Kind: kind, Action: act}.String())
}

func (s *recordSink) issue(line int, err error, text []byte) {
	pe := &ParseError{Source: s.source, Line: line, Err: err, Text: issueText(text)}
	s.issues = append(s.issues, pe.Error())
}

func (s *recordSink) skipped(int)   { s.skips++ }
func (s *recordSink) stopped() bool { return false }

// TestGolden parses every testdata/lists/*.txt with format detection and
// compares a dump with testdata/golden/*.golden: the detected format, the
// entries as sorted "kind<TAB>action<TAB>name" lines, the skipped count and
// every issue with its source:line. Regenerate with -update.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lists/*.txt")
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
			s := &recordSink{source: filepath.Base(f)}
			format, _, err := scan(bytes.NewReader(in), s.source, Auto, s)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(s.entries)
			var b strings.Builder
			fmt.Fprintf(&b, "# format: %v\n# entries: %d\n", format, len(s.entries))
			for _, e := range s.entries {
				b.WriteString(e + "\n")
			}
			fmt.Fprintf(&b, "# skipped: %d\n# issues: %d\n", s.skips, len(s.issues))
			for _, i := range s.issues {
				b.WriteString(i + "\n")
			}
			goldenFile := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("dump of %s differs from %s (run with -update after checking):\n--- got\n%s--- want\n%s", f, goldenFile, got, want)
			}
		})
	}
}
