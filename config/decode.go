package config

import (
	"encoding"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the work of one decode, so that aliases (`*x`) pointing at
// big lists cannot make a small file expensive.
const maxNodes = 100_000

// position is a 1-based line and column in the file.
type position struct{ line, col int }

func posOf(n *yaml.Node) position { return position{n.Line, n.Column} }

// decoder walks a yaml.Node tree into Go values by reflection, collecting
// every error instead of stopping at the first. It records the position of
// every field path it visits (for an absent key: the mapping that should hold
// it), so validation can point at values too.
type decoder struct {
	file  string
	errs  Errors
	pos   map[string]position // "resolver.upstreams[1].address" → where it is
	bad   map[string]bool     // paths that failed to decode
	nodes int                 // nodes visited, against maxNodes
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]position{}, bad: map[string]bool{}}
}

func (d *decoder) errorf(at position, path, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: at.line, Col: at.col, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.bad[path] = true
}

// field is one struct field as the schema sees it.
type field struct {
	key      string
	index    int
	required bool
	def      string // default as YAML text, if hasDef
	hasDef   bool
}

// fieldsOf reads the schema tags of struct type t.
func fieldsOf(t reflect.Type) []field {
	fs := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || !sf.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		f := field{key: key, index: i, required: opts == "required"}
		f.def, f.hasDef = sf.Tag.Lookup("default")
		fs = append(fs, f)
	}
	return fs
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// decode stores node n into v, whose schema path is path.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	at := posOf(n)
	n = deref(n)
	d.pos[path] = at
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.errorf(at, path, "the file is too large or repeats aliases too often")
		}
		return
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value == "" {
			v.SetZero() // "" disables an optional address
			return
		}
		p := reflect.New(t.Elem())
		d.decode(path, n, p.Elem())
		v.Set(p)
	case isScalar(t):
		d.scalar(path, at, n, v)
	case t.Kind() == reflect.Struct:
		d.mapping(path, at, n, v)
	case t.Kind() == reflect.Slice:
		d.sequence(path, at, n, v)
	default:
		panic(fmt.Sprintf("config: field %s has unsupported type %s", path, t))
	}
}

func isScalar(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.String:
		return true
	}
	return false
}

// describe names what the file has at n, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "something else"
}

// scalar decodes one scalar value. Messages say what was expected and what
// the file has.
func (d *decoder) scalar(path string, at position, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(at, path, "expected %s, got %s", expectedScalar(v), describe(n))
		return
	}
	switch p := v.Addr().Interface().(type) {
	case *time.Duration:
		x, err := ParseDuration(n.Value)
		if err != nil {
			d.errorf(at, path, "%s", err)
			return
		}
		*p = x
	case *netip.Prefix:
		x, err := ParsePrefix(n.Value)
		if err != nil {
			d.errorf(at, path, "%s", err)
			return
		}
		*p = x
	case *netip.AddrPort:
		x, err := ParseUpstreamAddr(n.Value)
		if err != nil {
			d.errorf(at, path, "%s", err)
			return
		}
		*p = x
	case *slog.Level:
		x, ok := parseLevel(n.Value)
		if !ok {
			d.errorf(at, path, `expected one of "debug", "info", "warn", "error", got %s`, describe(n))
			return
		}
		*p = x
	case encoding.TextUnmarshaler:
		if err := p.UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(at, path, "%s", err)
		}
	case *bool:
		if n.Tag != "!!bool" || n.Decode(p) != nil {
			d.errorf(at, path, "expected true or false, got %s", describe(n))
		}
	case *int:
		var x int64
		if n.Tag != "!!int" || n.Decode(&x) != nil || v.OverflowInt(x) {
			d.errorf(at, path, "expected a whole number, got %s", describe(n))
			return
		}
		*p = int(x)
	case *string:
		*p = n.Value // any scalar: a description may well be "2024"
	default:
		panic(fmt.Sprintf("config: field %s has unsupported scalar type %s", path, v.Type()))
	}
}

// expectedScalar describes the scalar type of v for "expected ..." messages.
func expectedScalar(v reflect.Value) string {
	switch v.Addr().Interface().(type) {
	case *time.Duration:
		return `a duration like "5s"`
	case *netip.Prefix:
		return `an IP address or CIDR prefix like "10.0.0.0/8"`
	case *netip.AddrPort:
		return `an IP address like "9.9.9.9"`
	case *ListenAddr:
		return `an address like "127.0.0.1:53"`
	case *bool:
		return "true or false"
	case *int:
		return "a whole number"
	}
	return "a single value"
}

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// mapping decodes a YAML mapping into struct v. Unknown and duplicate keys
// are errors; absent keys take their defaults.
func (d *decoder) mapping(path string, at position, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(at, path, "expected a mapping of keys (key: value lines), got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]position{}
	var suggested []string // known keys that unknown keys were probably meant to be
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		kat := posOf(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(kat, path, "expected a key name, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(kat, joinPath(path, k.Value), "merge keys (<<) are not supported; write the keys out")
			continue
		}
		key := k.Value
		kpath := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.errorf(kat, kpath, "duplicate key %q; it is already set at line %d", key, first.line)
			continue
		}
		seen[key] = kat
		f, ok := findField(fields, key)
		if !ok {
			msg, guess := unknownKeyMsg(key, path, fields)
			d.errorf(kat, kpath, "%s", msg)
			if guess != "" {
				suggested = append(suggested, guess)
			}
			continue
		}
		if isNull(deref(val)) {
			d.absent(kpath, posOf(val), f, v.Field(f.index)) // "key:" with no value = key left out
			continue
		}
		d.decode(kpath, val, v.Field(f.index))
	}
	for _, key := range suggested {
		if _, ok := seen[key]; !ok {
			// Already reported as a probable typo: say nothing more about
			// the key being missing.
			d.bad[joinPath(path, key)] = true
		}
	}
	for _, f := range fields {
		if _, ok := seen[f.key]; !ok {
			d.absent(joinPath(path, f.key), at, f, v.Field(f.index))
		}
	}
}

func findField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// absent fills field f, which the file leaves out, from its default. at is
// the position errors about it use: the mapping that should hold it.
func (d *decoder) absent(path string, at position, f field, v reflect.Value) {
	d.pos[path] = at
	switch {
	case f.required && !d.bad[path]:
		d.errorf(at, path, "required key %q is missing", f.key)
	case f.hasDef:
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(f.def), &doc); err != nil || len(doc.Content) != 1 {
			panic(fmt.Sprintf("config: default for %s is not YAML: %q", path, f.def))
		}
		moveTo(doc.Content[0], at)
		d.decode(path, doc.Content[0], v)
	case v.Kind() == reflect.Struct && !isScalar(v.Type()):
		d.decode(path, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.line, Column: at.col}, v)
	default:
		v.SetZero()
	}
}

// moveTo sets the position of every node in n's tree, so that anything
// about a default points where the key would go in the file.
func moveTo(n *yaml.Node, at position) {
	n.Line, n.Column = at.line, at.col
	for _, c := range n.Content {
		moveTo(c, at)
	}
}

// sequence decodes a YAML list into slice v. Elements that fail still take a
// slot, so indexes in later messages match the file.
func (d *decoder) sequence(path string, at position, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(at, path, "expected a list (\"- item\" lines or [a, b]), got %s", describe(n))
		return
	}
	s := reflect.Zero(v.Type())
	for i, e := range n.Content {
		epath := fmt.Sprintf("%s[%d]", path, i)
		ev := reflect.New(v.Type().Elem()).Elem()
		if isNull(deref(e)) {
			d.pos[epath] = posOf(e)
			d.errorf(posOf(e), epath, "empty list item")
		} else {
			d.decode(epath, e, ev)
		}
		s = reflect.Append(s, ev)
	}
	v.Set(s)
}

// schemaPath turns "a.b[3].c" into "a.b[].c".
func schemaPath(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
			b.WriteString("[]")
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// unknownKeyMsg explains an unknown key, suggesting a close sibling (also
// returned as guess) or the place in the schema where a key of that name
// belongs.
func unknownKeyMsg(key, parent string, siblings []field) (msg, guess string) {
	msg = fmt.Sprintf("unknown key %q", key)
	names := make([]string, len(siblings))
	for i, f := range siblings {
		names[i] = f.key
	}
	if s := closest(key, names); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s), s
	}
	if where := schemaParents(reflect.TypeFor[Config](), "", strings.ToLower(key)); len(where) > 0 && where[0] != schemaPath(parent) {
		if where[0] == "" {
			return msg + "; it belongs at the top level", ""
		}
		return msg + fmt.Sprintf("; it belongs under %q", where[0]), ""
	}
	return msg + "; known keys here: " + strings.Join(names, ", "), ""
}

// schemaParents lists the paths (with "[]" for list elements) of the
// mappings in the schema that have key.
func schemaParents(t reflect.Type, path, key string) []string {
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		if t.Kind() == reflect.Slice {
			path += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || isScalar(t) {
		return nil
	}
	var out []string
	for _, f := range fieldsOf(t) {
		if f.key == key {
			out = append(out, path)
		}
	}
	for _, f := range fieldsOf(t) {
		out = append(out, schemaParents(t.Field(f.index).Type, joinPath(path, f.key), key)...)
	}
	return out
}

// closest returns the known name nearest to key, if it is near enough to
// be a typo.
func closest(key string, known []string) string {
	key = strings.ToLower(key)
	best, bestDist := "", 1<<30
	for _, k := range known {
		dist := editDistance(key, k)
		if len(key) >= 4 && (strings.HasPrefix(k, key) || strings.HasPrefix(key, k)) {
			dist = min(dist, 1)
		}
		if dist < bestDist {
			best, bestDist = k, dist
		}
	}
	limit := 1
	if len(key) >= 6 {
		limit = 2
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost 1.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
