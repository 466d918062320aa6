package safeguarding

import (
	"bytes"
	"testing"
)

// FuzzSettings feeds arbitrary JSON (as a dashboard might pass on from a
// browser) through ParseSettings and Validate: neither may panic, and
// settings that validate survive the canonical round trip unchanged.
func FuzzSettings(f *testing.F) {
	def := WithDefaults(dslSettings())
	js, err := def.Canonical()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Add([]byte(`{"priorities":[{"category":"iwf","priority":"high"}]}`))
	f.Add([]byte(`{"rules":[{"priority":"critical","threshold":-1,"window":"-5m"}]}`))
	f.Add([]byte(`{"on_call":[{"recipient":"x","weekly":["Sat 25:00-26:00"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSettings(data)
		if err != nil {
			return
		}
		if s.Validate() != nil {
			return
		}
		c1, err := s.Canonical()
		if err != nil {
			t.Fatalf("valid settings do not encode: %v", err)
		}
		s2, err := ParseSettings(c1)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, c1)
		}
		c2, _ := s2.Canonical()
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", c1, c2)
		}
	})
}
