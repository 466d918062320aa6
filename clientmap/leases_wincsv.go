package clientmap

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Windows Server's DHCP role exports leases with
//
//	Get-DhcpServerv4Scope | Get-DhcpServerv4Lease | Export-Csv leases.csv
//
// which writes (Windows PowerShell 5.1; PowerShell 7 and -NoTypeInformation
// omit the first line):
//
//	#TYPE Microsoft.Management.Infrastructure.CimInstance#root/Microsoft/Windows/DHCP/DhcpServerv4Lease
//	"IPAddress","ScopeId","AddressState","ClientId","ClientType","Description",...,"HostName","LeaseExpiryTime",...
//	"10.20.3.4","10.20.0.0","Active","aa-bb-cc-dd-ee-ff","Dhcp","",...,"Y9-IPAD-12.school.local","19/11/2026 20:40:01",...
//
// Columns are found by name (case-insensitive), so a Select-Object
// subset works as long as IPAddress is there. ClientId is the MAC with
// hyphens for Ethernet clients. AddressState Active and
// ActiveReservation bind; Offered, Declined, Expired and
// InactiveReservation do not; without the column every row counts.
// LeaseExpiryTime is local time in the exporting session's culture and is
// empty for reservations (no expiry). Get-DhcpServerv6Lease exports
// (ClientDuid instead of ClientId) are read the same way.
//
// What the exporting PowerShell writes (checked against PowerShell's
// CsvCommands.cs and Microsoft's encoding documentation; testdata has one
// file for each):
//
//   - Windows PowerShell 5.1 Export-Csv: the #TYPE line, every value in
//     double quotes, CRLF, and ASCII: any other character becomes "?"
//     (so "JÜRGEN-PC" arrives as "J?RGEN-PC"; -Encoding UTF8 keeps it, with
//     a UTF-8 BOM).
//   - A null property (a reservation's LeaseExpiryTime, a missing HostName
//     or Description) is written as nothing at all, not as "": rows have
//     bare empty fields (,,) between the quoted ones.
//   - ConvertTo-Csv | Out-File, or "> file": UTF-16LE with a BOM, #TYPE
//     line included.
//   - PowerShell 7: no #TYPE line, values still quoted (-UseQuotes Always),
//     UTF-8 without a BOM.
//   - -UseCulture writes the culture's list separator (";" in de-DE, fr-FR
//     and others): the separator is detected from the header.
//   - Dates are DateTime.ToString() in the exporting session's culture.

// decodeText returns data as UTF-8: a UTF-8 BOM is dropped and UTF-16
// (with a BOM, or little-endian text whose second byte is zero) is
// converted.
func decodeText(data []byte) []byte {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return utf16ToUTF8(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return utf16ToUTF8(data[2:], true)
	case len(data) >= 2 && data[0] != 0 && data[1] == 0:
		return utf16ToUTF8(data, false)
	}
	return data
}

func utf16ToUTF8(b []byte, bigEndian bool) []byte {
	u := make([]uint16, len(b)/2) // a trailing odd byte is a cut-off write
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out
}

type winRow struct {
	line   int
	fields []string
}

func parseWindows(p *leaseParse, name string, data []byte) {
	text := decodeText(data)
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = csvDelimiter(text)
	r.Comment = '#' // the #TYPE line
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var header []string
	var rows []winRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var perr *csv.ParseError
			if !errors.As(err, &perr) {
				p.errorf(name, line, "%v", err)
				break
			}
			p.nrecords++
			p.errorf(name, line, "%v", err)
			continue
		}
		if header == nil {
			header = rec
			continue
		}
		p.nrecords++
		rows = append(rows, winRow{line: line, fields: rec})
	}
	if header == nil {
		return
	}
	col := func(want string) int {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), want) {
				return i
			}
		}
		return -1
	}
	cAddr, cClient, cDUID := col("IPAddress"), col("ClientId"), col("ClientDuid")
	cHost, cState, cExp := col("HostName"), col("AddressState"), col("LeaseExpiryTime")
	if cAddr < 0 {
		p.errorf(name, 1, "header has no IPAddress column")
		return
	}

	order := p.src.DateOrder
	if order == DateOrderAuto && cExp >= 0 {
		order = detectDateOrder(rows, cExp)
	}
	loc := p.src.Location
	if loc == nil {
		loc = time.Local
	}

	for _, row := range rows {
		f := row.fields
		if len(f) != len(header) {
			p.errorf(name, row.line, "want %d columns as in the header, got %d (row cut off?)", len(header), len(f))
			continue
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(f[cAddr]))
		if err != nil || addr.Zone() != "" {
			p.errorf(name, row.line, "invalid IPAddress %q", f[cAddr])
			continue
		}
		var mac MAC
		if cClient >= 0 {
			if hw, ok := parseHexColon(strings.TrimSpace(f[cClient])); ok && len(hw) == 6 {
				mac = MAC(hw)
			}
		}
		if mac.IsZero() && cDUID >= 0 {
			if duid, ok := parseHexColon(strings.TrimSpace(f[cDUID])); ok {
				mac = macFromDUID(duid)
			}
		}
		active := true
		if cState >= 0 {
			st := strings.TrimSpace(f[cState])
			active = strings.EqualFold(st, "Active") || strings.EqualFold(st, "ActiveReservation")
		}
		var expires time.Time
		if cExp >= 0 && strings.TrimSpace(f[cExp]) != "" {
			expires, err = parseWindowsTime(f[cExp], order, loc)
			if err != nil {
				p.errorf(name, row.line, "LeaseExpiryTime: %v", err)
				continue
			}
		}
		var host string
		if cHost >= 0 {
			host = cleanHostname(strings.TrimSpace(f[cHost]))
		}
		p.add(Lease{Addr: addr, MAC: mac, Hostname: host, Expires: expires, Source: name}, active)
	}
}

// csvDelimiter finds the field separator from the header line (the first
// line not starting with '#'): a comma unless the header has more
// semicolons or tabs outside quotes. Export-Csv -UseCulture writes the
// culture's list separator, which is ";" in much of Europe, and
// -Delimiter can be anything; a header always has several fields.
func csvDelimiter(text []byte) rune {
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var n [3]int // ',', ';', '\t'
		quoted := false
		for _, c := range line {
			switch c {
			case '"':
				quoted = !quoted
			case ',':
				if !quoted {
					n[0]++
				}
			case ';':
				if !quoted {
					n[1]++
				}
			case '\t':
				if !quoted {
					n[2]++
				}
			}
		}
		switch {
		case n[1] > n[0] && n[1] >= n[2]:
			return ';'
		case n[2] > n[0] && n[2] > n[1]:
			return '\t'
		}
		return ','
	}
	return ','
}

// winTime is a date and time as written, before the day-month order is
// known.
type winTime struct {
	a, b, year        int // a/b/year, or year-first with a = month, b = day
	yearFirst         bool
	hour, minute, sec int
	ampm              bool
	pm                bool
}

// splitWindowsTime reads the culture formats Windows uses for a short date
// and long time: "19/11/2026 20:40:01" (en-GB), "11/19/2026 8:40:01 PM"
// (en-US), "19.11.2026 20:40:01" (de-DE), "19-11-2026 20:40" (nl-NL),
// "2026-11-19 20:40:01" and "2026-11-19T20:40:01".
func splitWindowsTime(s string) (winTime, error) {
	var t winTime
	s = strings.TrimSpace(s)
	parts := strings.Fields(s)
	if len(parts) == 1 && strings.Count(s, "T") == 1 {
		parts = strings.Split(s, "T")
	}
	if len(parts) < 2 || len(parts) > 3 {
		return t, fmt.Errorf("unrecognised date and time %q", s)
	}
	d := strings.FieldsFunc(strings.TrimSuffix(parts[0], "."), func(r rune) bool { return r == '/' || r == '.' || r == '-' })
	if len(d) != 3 {
		return t, fmt.Errorf("unrecognised date %q", parts[0])
	}
	var n [3]int
	for i, x := range d {
		v, err := strconv.Atoi(x)
		if err != nil || v < 0 || len(x) > 4 {
			return t, fmt.Errorf("unrecognised date %q", parts[0])
		}
		n[i] = v
	}
	if len(d[0]) == 4 {
		t.yearFirst, t.year, t.a, t.b = true, n[0], n[1], n[2]
	} else {
		t.a, t.b, t.year = n[0], n[1], n[2]
		switch len(d[2]) {
		case 2:
			t.year += 2000
		case 4:
		default:
			return t, fmt.Errorf("unrecognised year in %q", parts[0])
		}
	}
	hms := strings.Split(parts[1], ":")
	if len(hms) < 2 || len(hms) > 3 {
		return t, fmt.Errorf("unrecognised time %q", parts[1])
	}
	for i, x := range hms {
		v, err := strconv.Atoi(x)
		if err != nil || v < 0 || len(x) > 2 {
			return t, fmt.Errorf("unrecognised time %q", parts[1])
		}
		switch i {
		case 0:
			t.hour = v
		case 1:
			t.minute = v
		case 2:
			t.sec = v
		}
	}
	if len(parts) == 3 {
		switch strings.ToUpper(parts[2]) {
		case "AM":
			t.ampm = true
		case "PM":
			t.ampm, t.pm = true, true
		default:
			return t, fmt.Errorf("unrecognised time %q", parts[1]+" "+parts[2])
		}
	}
	return t, nil
}

// detectDateOrder implements DateOrderAuto over the rows of one file.
func detectDateOrder(rows []winRow, col int) DateOrder {
	var dmy, mdy, ampm int
	for _, row := range rows {
		if col >= len(row.fields) {
			continue
		}
		t, err := splitWindowsTime(row.fields[col])
		if err != nil || t.yearFirst {
			continue
		}
		if t.a > 12 {
			dmy++
		}
		if t.b > 12 {
			mdy++
		}
		if t.ampm {
			ampm++
		}
	}
	switch {
	case dmy > mdy:
		return DateOrderDMY
	case mdy > dmy:
		return DateOrderMDY
	case ampm > 0:
		return DateOrderMDY
	}
	return DateOrderDMY
}

func parseWindowsTime(s string, order DateOrder, loc *time.Location) (time.Time, error) {
	t, err := splitWindowsTime(s)
	if err != nil {
		return time.Time{}, err
	}
	month, day := t.a, t.b
	if !t.yearFirst && order != DateOrderMDY {
		month, day = t.b, t.a
	}
	hour := t.hour
	if t.ampm {
		if hour < 1 || hour > 12 {
			return time.Time{}, fmt.Errorf("invalid hour in %q", s)
		}
		hour %= 12
		if t.pm {
			hour += 12
		}
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || t.minute > 59 || t.sec > 59 {
		return time.Time{}, fmt.Errorf("invalid date or time %q (date order %s)", strings.TrimSpace(s), orderName(order))
	}
	tm := time.Date(t.year, time.Month(month), day, hour, t.minute, t.sec, 0, loc)
	if tm.Day() != day { // 31/02 and the like
		return time.Time{}, fmt.Errorf("invalid date %q", strings.TrimSpace(s))
	}
	return tm, nil
}

func orderName(o DateOrder) string {
	if o == DateOrderMDY {
		return "month first"
	}
	return "day first"
}
