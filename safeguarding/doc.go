// Package safeguarding turns the query log's blocked and bypass decisions
// into safeguarding concerns, stores them durably, routes them to the
// people who must act (email, Teams, Slack, JSON webhooks, syslog; at once
// or in hourly and daily digests; in and out of school hours, with an
// on-call rota), and keeps the record a school's designated safeguarding
// lead (DSL) needs: incidents with owner, status, notes, action taken and
// outcome, timescales with escalation, exports, and the weekly report the
// DfE standard asks for.
//
// The effective settings (category priorities, alert rules, recipients and
// routing) live in the engine's own SQLite database, not in the config
// file: they are seeded once from the config, and change only through a
// proposal by one account approved by another account with the approver
// role. Every proposal, approval, rejection and applied change, and every
// change of delivery infrastructure seen in the config (SMTP server,
// webhook URLs, syslog), is appended to a hash-chained audit log (package
// audit) that "gatehouse audit verify" checks.
//
// A DNS lookup is an indicator, not proof: every alert says so.
//
// The query path never calls this package. The engine reads the query
// log's live feed (querylog.Log.Subscribe) on its own goroutines through a
// bounded queue that drops (and counts) rather than wait. It imports
// querylog (for Entry and legal holds) and blocklists (for category names);
// it must not import resolver, policy or the dashboard.
package safeguarding
