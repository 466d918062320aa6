package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range append(files, packagingExample) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	def, err := Default().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	for _, s := range []string{
		"",
		"version: 1\n",
		"version: 2\n",
		"- a\n",
		"version: 1\n---\nversion: 1\n",
		"version: 1\nresolver: {mode: forward, upstreams: [{address: 9.9.9.9, protocol: tls, tls_server_name: x}]}\ngroups: [{name: a, description: \"\\x01\"}]\n",
		"version: 1\nlisten: {dns: [\"[::1]\", \":53\"], http: \"\"}\nresolver: {mode: forward, upstreams: [{address: \"::1\"}]}\ngroups: [{name: a}]\n",
		"version: 1\nresolver: {mode: forward, upstreams: &u [{address: 1.1.1.1}], conditional: [{domains: [A.b], upstreams: *u}]}\ngroups: [{name: a}]\n",
		"version: 1\naccess: {allow: [\"::/0\"], allow_any: true}\nresolver: {mode: forward, upstreams: [{address: 1.1.1.1}]}\ngroups: [{name: a}]\n",
		"version: 1\nlog:\n  <<: {level: info}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned both a config and an error")
			}
			if _, ok := err.(Errors); !ok || len(err.(Errors)) == 0 {
				t.Fatalf("Parse error is %T (%v), want non-empty Errors", err, err)
			}
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed config: %v", err)
		}
		back, err := Parse("marshalled.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)) failed: %v\ninput:\n%q\nmarshalled:\n%s", err, data, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("Parse(Marshal(c)) != c\ninput:\n%q\nmarshalled:\n%s\ngot  %+v\nwant %+v", data, out, back, c)
		}
	})
}
