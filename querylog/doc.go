// Package querylog is the per-query record: every DNS query becomes an Entry
// with a unique, time-ordered ID that incidents and block pages cite, kept
// in an embedded SQLite database (pure-Go driver, WAL) in the state
// directory. The query path only calls Log.Enqueue, which copies the Entry
// into a bounded in-memory ring and never blocks or allocates; a single
// writer goroutine formats, interns and commits entries in batches (into
// a staging table without indexes, every FlushInterval), keeps daily
// rollups for reports, moves staged entries into the indexed table in
// large slices (so each index page is written once per slice, not once
// per batch: the SD card's wear), and runs retention, pseudonymisation
// and legal holds in small transactions between batches. Search, export, tail
// and reports read the same file, from this process or, read-only, from the
// CLI. The package imports nothing else from Gatehouse: callers convert
// their own types into an Entry.
package querylog
