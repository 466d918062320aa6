// Package store is the dashboard's own state database (dashboard.db in the
// state directory, SQLite through the pure-Go driver): local accounts with
// roles and argon2id password hashes, server-side login sessions, the
// access log that records every look at the query log (GDPR
// accountability), and the review requests pupils and teachers send from
// the block page. Session tokens are stored only as SHA-256 hashes, so a
// copy of the database does not let anyone log in.
//
// store imports nothing else from Gatehouse; the dashboard and the CLI
// ("gatehouse users") are its callers.
package store
