package config

import (
	"gatehouse/safesearch"

	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// builtin is the configuration used when no file is given. Everything not
// written here comes from the `default` struct tags, the same way it does for
// a file, so the defaults live in one place.
const builtin = `version: 1
groups:
  - name: default
`

// Default returns the built-in configuration: recursive resolution from the
// IANA root servers with DNSSEC validation, one group "default", and every
// other setting at its default.
func Default() *Config {
	c, err := Parse("built-in default", []byte(builtin))
	if err != nil {
		panic("config: the built-in default config is invalid: " + err.Error())
	}
	return c
}

// Load reads and parses the config file at path. A read failure is returned
// as is (wrapped); problems in the file are returned as Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data strictly, applies defaults, normalises and validates.
// file names the source in error messages. On failure it returns a nil
// Config and an Errors holding every problem found, sorted by position.
func Parse(file string, data []byte) (*Config, error) {
	top, errs := parseDocument(file, data)
	if top == nil {
		return nil, errs
	}
	if e, ok := checkVersion(file, top); !ok {
		// A different schema: anything else we say would be noise.
		return nil, Errors{e}
	}
	var c Config
	d := newDecoder(file)
	d.decode("", top, reflect.ValueOf(&c).Elem())
	normalise(&c)
	v := validator{file: file, pos: d.pos, bad: d.bad}
	v.config(&c)
	errs = append(errs, d.errs...)
	errs = append(errs, v.errs...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return &c, nil
}

// parseDocument parses data as exactly one YAML document holding a mapping
// and returns that mapping. It returns a nil node when nothing can be
// decoded; errors about later documents come back alongside the node.
func parseDocument(file string, data []byte) (*yaml.Node, Errors) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: file, Line: 1, Col: 1, Msg: `the file is empty; a config needs at least "version: 1"`}}
		}
		return nil, Errors{syntaxError(file, data, err)}
	}
	var errs Errors
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxError(file, data, err))
			break
		}
		if len(extra.Content) == 1 && isNull(extra.Content[0]) {
			continue // a stray "---" at the end holds nothing
		}
		errs = append(errs, Error{File: file, Line: extra.Line, Col: extra.Column,
			Msg: `a second YAML document starts here ("---"); a config file holds exactly one`})
		break
	}
	top := deref(doc.Content[0])
	switch {
	case isNull(top):
		return nil, append(Errors{{File: file, Line: top.Line, Col: top.Column, Msg: `the document is empty; a config needs at least "version: 1"`}}, errs...)
	case top.Kind != yaml.MappingNode:
		return nil, append(Errors{{File: file, Line: top.Line, Col: top.Column,
			Msg: fmt.Sprintf(`the top level must be a mapping of keys such as "version: 1", got %s`, describe(top))}}, errs...)
	}
	return top, errs
}

// syntaxError turns a YAML parser error ("yaml: line 3: did not find
// expected key") into an Error. The parser gives no column, and its line is
// 0-based for grammar errors (unlike scanner errors), so those get 1 added.
func syntaxError(file string, data []byte, err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	if isGrammarError(msg) {
		line++
	}
	e := Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
	if msg == "did not find expected node content" {
		// libyaml cannot read a plain value starting with ":" inside [ ],
		// which is how IPv6 addresses like ::1 look. Point at it.
		if l, c, ok := flowColon(data); ok {
			e.Line, e.Col = l, c
			e.Msg += `; a value starting with ":" inside [ ] must be quoted, like ["::1/128"] or [":53"]`
		}
	}
	return e
}

// isGrammarError reports whether msg comes from the YAML parser (as opposed
// to its scanner).
func isGrammarError(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected <") ||
		strings.HasPrefix(msg, "did not find expected node content") ||
		strings.HasPrefix(msg, "did not find expected key") ||
		strings.HasPrefix(msg, "did not find expected '-'") ||
		strings.HasPrefix(msg, "did not find expected ','") ||
		strings.HasPrefix(msg, "found undefined tag handle") ||
		strings.HasPrefix(msg, "found duplicate %") ||
		strings.HasPrefix(msg, "found incompatible YAML document")
}

// flowColon finds the first unquoted value starting with ":" right after
// "[" or "," on a line, and returns its 1-based line and column.
func flowColon(data []byte) (line, col int, ok bool) {
	for i, text := range strings.Split(string(data), "\n") {
		if j := strings.IndexByte(text, '#'); j >= 0 {
			text = text[:j]
		}
		for j := 0; j < len(text); j++ {
			if text[j] != '[' && text[j] != ',' {
				continue
			}
			k := j + 1
			for k < len(text) && text[k] == ' ' {
				k++
			}
			if k < len(text) && text[k] == ':' {
				return i + 1, k + 1, true
			}
		}
	}
	return 0, 0, false
}

// checkVersion reports a version other than 1. A missing or malformed
// version is left to the decoder, which reports it with everything else.
func checkVersion(file string, top *yaml.Node) (Error, bool) {
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, val := deref(top.Content[i]), deref(top.Content[i+1])
		if k.Value != "version" || val.Kind != yaml.ScalarNode || val.Tag != "!!int" {
			continue
		}
		if n, err := strconv.ParseInt(val.Value, 0, 64); err == nil && n != 1 {
			return Error{File: file, Line: val.Line, Col: val.Column, Path: "version",
				Msg: fmt.Sprintf("unsupported config version %s; this build of gatehouse reads version 1", val.Value)}, false
		}
	}
	return Error{}, true
}

// maxQueriesPerSecond bounds access.rate_limit.queries_per_second.
const maxQueriesPerSecond = 1_000_000

// normalise fills the defaults that depend on other values: ports by
// protocol, burst from the rate, the default group, and the canonical
// spelling of domain names.
func normalise(c *Config) {
	for i := range c.Listen.DNS {
		if c.Listen.DNS[i].Port == 0 {
			c.Listen.DNS[i].Port = 53
		}
	}
	if h := c.Listen.HTTP; h != nil && h.Port == 0 {
		h.Port = 8053
	}
	if h := c.Listen.BlockPage; h != nil && h.Port == 0 {
		h.Port = 80
	}
	if h := c.Listen.BlockPageHTTPS; h != nil && h.Port == 0 {
		h.Port = 443
	}
	if h := c.Listen.DashboardRedirect; h != nil && h.Port == 0 {
		h.Port = 80
	}
	fillPorts(c.Resolver.Upstreams)
	for i := range c.Resolver.Conditional {
		cond := &c.Resolver.Conditional[i]
		fillPorts(cond.Upstreams)
		for j, name := range cond.Domains {
			cond.Domains[j] = canonicalName(name)
		}
	}
	rl := &c.Access.RateLimit
	if rl.Burst == 0 && rl.QueriesPerSecond > 0 && rl.QueriesPerSecond <= maxQueriesPerSecond {
		rl.Burst = 2 * rl.QueriesPerSecond
	}
	if c.DefaultGroup == "" && len(c.Groups) > 0 {
		c.DefaultGroup = c.Groups[0].Name
	}
	defaults := safesearch.Builtin().Defaults()
	for i := range c.Groups {
		c.Groups[i].SafeSearch.fillDefaults(defaults)
	}
	normaliseAnswerChecks(c)
}

func fillPorts(us []Upstream) {
	for i := range us {
		if a := us[i].Address; a.IsValid() && a.Port() == 0 {
			us[i].Address = netip.AddrPortFrom(a.Addr(), us[i].Protocol.DefaultPort())
		}
	}
}

// canonicalName lower-cases name and makes it fully qualified.
func canonicalName(name string) string {
	name = strings.ToLower(name)
	if name != "" && !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}
