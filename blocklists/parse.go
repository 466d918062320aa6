package blocklists

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
)

// Format is the syntax of a list source.
type Format uint8

// The formats. See the package documentation for what each accepts.
const (
	// Auto detects the format from the first meaningful lines.
	Auto Format = iota
	// Hosts is the hosts-file format: "0.0.0.0 name [name...]".
	Hosts
	// Domains is one name per line; "*.name" means only names below name.
	Domains
	// Adblock is the DNS subset of Adblock filter syntax: "||name^",
	// "@@||name^", "|name^".
	Adblock
	// RPZ is a DNS response policy zone in zone-file syntax.
	RPZ
	// Addresses is one IP address or CIDR prefix per line: a list of
	// answer addresses, compiled into an IPSet, never into a Set. "ip" is
	// accepted as another name for it. Auto never detects it.
	Addresses
)

var formatNames = [...]string{Auto: "auto", Hosts: "hosts", Domains: "domains", Adblock: "adblock", RPZ: "rpz", Addresses: "cidr"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat returns the Format named s ("auto", "hosts", "domains",
// "adblock", "rpz", or "cidr" and its alias "ip").
func ParseFormat(s string) (Format, error) {
	if s == "ip" {
		return Addresses, nil
	}
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown list format %q (want auto, hosts, domains, adblock, rpz, or cidr for IP addresses)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Kind says which names an entry matches.
type Kind uint8

// The kinds. Their values are stored in the low bits of compiled keys.
const (
	// Subtree matches the name and every name below it.
	Subtree Kind = iota
	// Exact matches the name only.
	Exact
	// Children matches the names below the name but not the name itself
	// ("*.name").
	Children
)

func (k Kind) String() string {
	switch k {
	case Subtree:
		return "subtree"
	case Exact:
		return "exact"
	case Children:
		return "children"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Action is what an entry asks for, and what a Match decided.
type Action uint8

// The actions.
const (
	// NoAction: nothing matched (only in a Match).
	NoAction Action = iota
	// Block answers the query locally in the group's block style.
	Block
	// NoData blocks with an empty NOERROR answer (RPZ "CNAME *.").
	NoData
	// Allow lets the query through: allow lists, Adblock "@@" exceptions,
	// RPZ "rpz-passthru.".
	Allow
)

func (a Action) String() string {
	switch a {
	case NoAction:
		return "none"
	case Block:
		return "block"
	case NoData:
		return "nodata"
	case Allow:
		return "allow"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Entry is one rule read from a list.
type Entry struct {
	// Name is canonical (see Canonical). For Children entries it is the
	// name below which entries match, without the "*.".
	Name   string
	Kind   Kind
	Action Action
	// Line is the 1-based line number in the source.
	Line int
}

// String formats e as "kind<TAB>action<TAB>name", the golden-file form.
func (e Entry) String() string {
	return e.Kind.String() + "\t" + e.Action.String() + "\t" + e.Name
}

// ErrUnsupported marks lines that are valid in their format but ask for
// something a DNS name filter cannot do (URL paths, cosmetic rules, RPZ IP
// triggers, local-data rewrites, ...). They are skipped and counted apart
// from invalid lines: they are not mistakes in the list.
var ErrUnsupported = errors.New("unsupported")

// ParseError is a skipped line: invalid, or unsupported when Err wraps
// ErrUnsupported. Parsing continues after it.
type ParseError struct {
	Source string
	Line   int // 1-based; 0 when the note is about the whole source
	Err    error
	Text   string // the line, shortened
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.Source, e.Err)
	}
	if e.Text == "" {
		return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v: %q", e.Source, e.Line, e.Err, e.Text)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Unsupported reports whether the line was skipped as unsupported rather
// than invalid.
func (e *ParseError) Unsupported() bool { return errors.Is(e.Err, ErrUnsupported) }

const maxIssueText = 100

func issueText(b []byte) string {
	b = trimSpace(b)
	if len(b) > maxIssueText {
		return string(b[:maxIssueText]) + "..."
	}
	return string(b)
}

// Parse reads one list source and yields its entries in order. Invalid and
// unsupported lines yield a *ParseError (with source:line) and parsing goes
// on; a read error is yielded last as a plain error. Names are canonical.
// Stopping the iteration early stops reading.
func Parse(r io.Reader, source string, format Format) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		s := &yieldSink{yield: yield, source: source}
		if _, _, err := scan(r, source, format, s); err != nil && !s.stop {
			yield(Entry{}, err)
		}
	}
}

// sink receives what the line parsers find. name is only valid during the
// call.
type sink interface {
	entry(name []byte, kind Kind, act Action, line int)
	issue(line int, err error, text []byte)
	skipped(line int)
	stopped() bool
}

type yieldSink struct {
	yield  func(Entry, error) bool
	source string
	stop   bool
}

func (s *yieldSink) entry(name []byte, kind Kind, act Action, line int) {
	if !s.stop && !s.yield(Entry{Name: string(name), Kind: kind, Action: act, Line: line}, nil) {
		s.stop = true
	}
}

func (s *yieldSink) issue(line int, err error, text []byte) {
	if !s.stop && !s.yield(Entry{}, &ParseError{Source: s.source, Line: line, Err: err, Text: issueText(text)}) {
		s.stop = true
	}
}

func (s *yieldSink) skipped(int)   {}
func (s *yieldSink) stopped() bool { return s.stop }

const readBufSize = 64 << 10

var (
	errLongLine = errors.New("line longer than 64 KiB")
	errUTF16    = errors.New("UTF-16 text is not supported: save the list as UTF-8")
)

// scan parses r line by line into s and returns the format it used (the
// detected one for Auto) and the number of lines. Only read errors are
// returned.
func scan(r io.Reader, source string, format Format, s sink) (Format, int, error) {
	br := bufio.NewReaderSize(r, readBufSize)
	if head, _ := br.Peek(2); len(head) == 2 && (head[0] == 0xFF && head[1] == 0xFE || head[0] == 0xFE && head[1] == 0xFF) {
		s.issue(1, errUTF16, nil)
		return format, 1, nil
	}
	if format == Auto {
		format = detect(br)
	}
	p := lineParser{format: format, sink: s}
	n := 0
	for !s.stopped() {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			n++
			s.issue(n, errLongLine, line[:maxIssueText])
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return format, n, fmt.Errorf("reading %s: %w", source, err)
			}
			continue
		}
		if len(line) > 0 {
			n++
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
			}
			p.parseLine(n, line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return format, n, fmt.Errorf("reading %s: %w", source, err)
		}
	}
	p.finish(n)
	return format, n, nil
}

// lineParser holds the per-source state of the line parsers.
type lineParser struct {
	format Format
	sink   sink
	name   []byte // scratch for the canonical name
	rpz    rpzState
}

func (p *lineParser) parseLine(n int, line []byte) {
	switch p.format {
	case Adblock:
		p.adblockLine(n, line)
	case RPZ:
		p.rpzLine(n, line)
	case Addresses:
		p.addressLine(n, line)
	default:
		p.hostsLine(n, line)
	}
}

func (p *lineParser) finish(n int) {
	if p.format == RPZ {
		p.rpzFinish(n)
	}
}

// emit canonicalises raw and hands it to the sink, or reports why not.
func (p *lineParser) emit(n int, raw []byte, kind Kind, act Action, line []byte) {
	var err error
	p.name, err = appendCanonical(p.name[:0], raw)
	if err != nil {
		p.sink.issue(n, err, line)
		return
	}
	p.sink.entry(p.name, kind, act, n)
}

// detect peeks at the start of the source and guesses its format. RPZ and
// Adblock have unmistakable markers; hosts and domains lists are parsed by
// the same lenient parser, so telling them apart only matters for reports.
func detect(br *bufio.Reader) Format {
	head, _ := br.Peek(32 << 10)
	head = bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	var hosts, domains, seen int
	for len(head) > 0 && seen < 200 {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		switch line[0] {
		case '#', ';':
			continue
		case '$':
			if hasPrefixFold(line, "$ORIGIN") || hasPrefixFold(line, "$TTL") {
				return RPZ
			}
		case '!', '[':
			if bytes.HasPrefix(line, []byte("[Adblock")) || line[0] == '!' {
				// "!" comments are Adblock's; a domains list with them
				// parses the same either way, so keep looking.
				continue
			}
		case '|':
			return Adblock
		case '@':
			if bytes.HasPrefix(line, []byte("@@")) {
				return Adblock
			}
		}
		seen++
		first, rest := nextField(line)
		if isAddr(first) {
			hosts++
			continue
		}
		// Zone records: "name [ttl] [class] TYPE rdata".
		for f, r := nextField(rest); len(f) > 0; f, r = nextField(r) {
			if equalFold(f, "SOA") || equalFold(f, "CNAME") {
				return RPZ
			}
		}
		if bytes.HasSuffix(first, []byte("^")) {
			return Adblock
		}
		domains++
	}
	if hosts > domains {
		return Hosts
	}
	return Domains
}

// Byte helpers that do not allocate.

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextField returns the first whitespace-separated field of b and the rest.
func nextField(b []byte) (field, rest []byte) {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	i := 0
	for i < len(b) && !isSpace(b[i]) {
		i++
	}
	return b[:i], b[i:]
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals the ASCII string s ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}
