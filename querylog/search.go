package querylog

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Filter selects entries. Zero fields match everything.
type Filter struct {
	// From and To bound the entry time: From <= Time < To.
	From, To time.Time
	// Client is an IP address, a MAC address, or a hostname (case does
	// not matter; a trailing "*" matches by prefix, "Y9-IPAD-*"). A
	// pseudonym ("anon-...") finds pseudonymised entries.
	Client string
	Group  string
	// Domain is a query name, matched exactly ("example.org"), or with
	// everything below it when it starts with "*." or "." ("*.example.org"
	// matches example.org and www.example.org). Case and the final dot do
	// not matter.
	Domain   string
	Decision Decision // DecisionUnknown: any
	Category string
	// ID selects the one entry with this ID (ParseRef reads it from the
	// reference a block page shows); 0: any.
	ID uint64
	// Limit is the page size for Search (default 100, at most 10000).
	Limit int
	// Cursor continues a Search from Page.Next.
	Cursor string
}

// Page is one page of search results, newest first.
type Page struct {
	Entries []Entry
	// Next is the cursor of the following (older) page; "" on the last.
	Next string
}

// Default and largest search page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// idSlack is how far an entry's ID time may run ahead of its Time: an
// entry is enqueued after its query is answered, and slow answers take
// seconds. Time-range searches widen the ID range by this much and filter
// on the exact time.
const idSlack = time.Minute

// ErrBadCursor is returned for a cursor not made by Search.
var ErrBadCursor = errors.New("invalid search cursor")

// Search returns the newest entries matching f, one page at a time. Pages
// are keyed on the entry ID, so entries written while a technician pages
// do not shift or repeat results.
func (l *Log) Search(ctx context.Context, f Filter) (Page, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var before uint64
	if f.Cursor != "" {
		var err error
		if before, err = decodeCursor(f.Cursor); err != nil {
			return Page{}, err
		}
	}
	es, err := l.query(ctx, f, before, false, limit+1)
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: es}
	if len(es) > limit {
		p.Entries = es[:limit]
		p.Next = encodeCursor(es[limit-1].ID)
	}
	return p, nil
}

func encodeCursor(id uint64) string {
	var b [9]byte
	b[0] = 1 // version
	binary.BigEndian.PutUint64(b[1:], id)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 9 || b[0] != 1 {
		return 0, ErrBadCursor
	}
	return binary.BigEndian.Uint64(b[1:]), nil
}

// selectFrom is the select of entries from one of the tables that hold
// them (tableEntries, tableRecent: constants).
func selectFrom(table string) string {
	return `SELECT e.id, e.ts, c.addr, c.mac, c.hostname, c.pseudo, e.grp, e.rule, n.name, e.qtype, e.proto,
	e.decision, e.category, e.list, e.matched, e.rcode, e.answer, e.source, e.dnssec, e.duration, e.forwarder
FROM ` + table + ` e JOIN clients c ON c.id = e.client JOIN names n ON n.id = e.qname`
}

// query runs a filtered select: newest first below id (0: no bound), or
// with asc oldest first above id. Every value from f is a bound parameter;
// the SQL text is built only from constants.
func (l *Log) query(ctx context.Context, f Filter, id uint64, asc bool, limit int) ([]Entry, error) {
	if f.Group != "" {
		var ok bool
		var err error
		if f, ok, err = l.groupWindow(ctx, f); err != nil || !ok {
			return nil, err
		}
	}
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	order := "DESC"
	if asc {
		order = "ASC"
		where = append(where, "e.id > ?")
		args = append(args, int64(id))
	} else if id != 0 {
		where = append(where, "e.id < ?")
		args = append(args, int64(id))
	}
	cond := ""
	if len(where) > 0 {
		cond = "\nWHERE " + strings.Join(where, "\n AND ")
	}
	cond += "\nORDER BY e.id " + order + " LIMIT ?"
	// Every staged ID is above every merged one (schema v4): newest first
	// reads recent and then entries, oldest first the other way round,
	// both in one read transaction, so that a merge between the two
	// queries neither repeats nor loses an entry.
	tables := [2]string{tableRecent, tableEntries}
	if asc {
		tables[0], tables[1] = tables[1], tables[0]
	}
	tx, err := l.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("searching query log: %w", err)
	}
	defer tx.Rollback()
	var (
		out  []Entry
		refs [][5]int64
	)
	for _, table := range tables {
		if len(out) >= limit {
			break
		}
		if err := scanEntries(ctx, tx, selectFrom(table)+cond, append(args, limit-len(out)), &out, &refs); err != nil {
			return nil, fmt.Errorf("searching query log: %w", err)
		}
	}
	tx.Rollback() // before dictString needs a connection of its own
	for i := range out {
		e := &out[i]
		for j, dst := range [5]*string{&e.Group, &e.ClientRule, &e.Category, &e.List, &e.Matched} {
			if *dst, err = l.dictString(ctx, refs[i][j]); err != nil {
				return nil, fmt.Errorf("searching query log: %w", err)
			}
		}
	}
	return out, nil
}

// groupWindow narrows f's time range to the days its group has entries
// in, by the rollups, with a day's margin either side (schema v3 has no
// index on the group: a search by group scans its time range, and must not
// scan months for a group that was used once, or never). ok is false when
// no entry can match.
func (l *Log) groupWindow(ctx context.Context, f Filter) (_ Filter, ok bool, err error) {
	var first, last sql.NullInt64
	err = l.rdb.QueryRowContext(ctx, `SELECT min(day), max(day) FROM r_decisions
		WHERE grp = (SELECT id FROM dict WHERE s = ?)`, f.Group).Scan(&first, &last)
	if err != nil {
		return f, false, fmt.Errorf("searching query log: %w", err)
	}
	if !first.Valid {
		return f, false, nil
	}
	day := func(d int64) time.Time {
		return time.Date(int(d/10000), time.Month(d/100%100), int(d%100), 0, 0, 0, 0, l.loc)
	}
	if from := day(first.Int64).AddDate(0, 0, -1); f.From.IsZero() || f.From.Before(from) {
		f.From = from
	}
	if to := day(last.Int64).AddDate(0, 0, 2); f.To.IsZero() || f.To.After(to) {
		f.To = to
	}
	return f, f.From.Before(f.To), nil
}

func (f Filter) where() (where []string, args []any, err error) {
	if !f.From.IsZero() {
		where = append(where, "e.id >= ?", "e.ts >= ?")
		args = append(args, idAt(f.From), f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where = append(where, "e.id < ?", "e.ts < ?")
		args = append(args, idAt(f.To.Add(idSlack)), f.To.UnixNano())
	}
	if f.ID != 0 {
		where = append(where, "e.id = ?")
		args = append(args, int64(f.ID))
	}
	if f.Client != "" {
		w, a := clientWhere(f.Client)
		where = append(where, "e.client IN (SELECT id FROM clients WHERE "+w+")")
		args = append(args, a...)
	}
	if f.Group != "" {
		where = append(where, "e.grp = (SELECT id FROM dict WHERE s = ?)")
		args = append(args, f.Group)
	}
	if f.Domain != "" {
		d := f.Domain
		suffix := false
		if rest, ok := strings.CutPrefix(d, "*."); ok {
			d, suffix = rest, true
		} else if rest, ok := strings.CutPrefix(d, "."); ok {
			d, suffix = rest, true
		}
		key := nameKey(d)
		if suffix {
			// key itself, or key + "." + anything: "/" sorts right after ".".
			where = append(where, "e.qname IN (SELECT id FROM names WHERE rkey = ? OR (rkey > ? AND rkey < ?))")
			args = append(args, key, key+".", key+"/")
		} else {
			where = append(where, "e.qname IN (SELECT id FROM names WHERE rkey = ?)")
			args = append(args, key)
		}
	}
	if f.Decision != DecisionUnknown {
		if f.Decision >= numDecisions {
			return nil, nil, fmt.Errorf("unknown decision %d", f.Decision)
		}
		// The constant term lets SQLite use the partial index.
		if f.Decision == Allowed {
			where = append(where, "e.decision = ?")
		} else {
			where = append(where, "e.decision = ? AND e.decision <> 1")
		}
		args = append(args, int(f.Decision))
	}
	if f.Category != "" {
		where = append(where, "e.category = (SELECT id FROM dict WHERE s = ?) AND e.category <> 0")
		args = append(args, f.Category)
	}
	return where, args, nil
}

// clientWhere matches clients rows by what s looks like.
func clientWhere(s string) (string, []any) {
	if a, err := netip.ParseAddr(s); err == nil {
		return "addr IN (?, ?)", []any{a.String(), a.Unmap().String()}
	}
	if hw, err := net.ParseMAC(s); err == nil {
		return "mac = ? COLLATE NOCASE", []any{hw.String()}
	}
	if prefix, ok := strings.CutSuffix(s, "*"); ok {
		return `hostname LIKE ? ESCAPE '\'`, []any{likeEscape(prefix) + "%"}
	}
	return "hostname = ? COLLATE NOCASE OR addr = ? OR mac = ?", []any{s, s, s}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// scanEntries appends the entries q selects, and their interned ids.
func scanEntries(ctx context.Context, tx *sql.Tx, q string, args []any, out *[]Entry, refs *[][5]int64) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, ref, err := scanEntry(rows)
		if err != nil {
			return err
		}
		*out = append(*out, e)
		*refs = append(*refs, ref)
	}
	return rows.Err()
}

// scanEntry reads one row of selectEntries; the interned strings come back
// as ids: group, rule, category, list, matched.
func scanEntry(rows *sql.Rows) (Entry, [5]int64, error) {
	var (
		e                               Entry
		id, ts, dur                     int64
		addr                            string
		pseudo                          bool
		grp, rule, cat, list, matched   int64
		answer, fwd                     string
		qtype, rcode                    uint16
		proto, decision, source, dnssec uint8
	)
	if err := rows.Scan(&id, &ts, &addr, &e.MAC, &e.Hostname, &pseudo, &grp, &rule, &e.QName, &qtype, &proto,
		&decision, &cat, &list, &matched, &rcode, &answer, &source, &dnssec, &dur, &fwd); err != nil {
		return e, [5]int64{}, err
	}
	e.ID = uint64(id)
	e.Time = time.Unix(0, ts).UTC()
	if pseudo {
		e.Pseudonym = addr
	} else if addr != "" {
		e.Client, _ = netip.ParseAddr(addr)
	}
	e.QType, e.Rcode = qtype, rcode
	e.Proto, e.Decision, e.Source, e.DNSSEC = Proto(proto), Decision(decision), Source(source), DNSSEC(dnssec)
	e.Duration = time.Duration(dur)
	if fwd != "" {
		e.Forwarder, _ = netip.ParseAddr(fwd)
	}
	if answer != "" {
		e.Answer = Text(answer)
	}
	return e, [5]int64{grp, rule, cat, list, matched}, nil
}

// dictString resolves an interned string id, caching: dict rows are never
// changed or deleted.
func (l *Log) dictString(ctx context.Context, id int64) (string, error) {
	if id == 0 {
		return "", nil
	}
	l.dictMu.Lock()
	s, ok := l.dict[id]
	l.dictMu.Unlock()
	if ok {
		return s, nil
	}
	if err := l.rdb.QueryRowContext(ctx, `SELECT s FROM dict WHERE id = ?`, id).Scan(&s); err != nil {
		return "", fmt.Errorf("reading string %d: %w", id, err)
	}
	l.dictMu.Lock()
	l.dict[id] = s
	l.dictMu.Unlock()
	return s, nil
}
