// Package dashboard is Gatehouse's web dashboard and block page: server-
// rendered pages (html/template, assets embedded with go:embed, charts as
// SVG drawn on the server, a few lines of JavaScript only for the live
// query view) for status, the query log, devices, reports, lists and
// policy, review requests and accounts.
//
// Every page and API needs a login session except the block page (its own
// listener) and /healthz (served by the caller). Sessions are server-side
// records (package dashboard/store) named by a random token in a Secure
// (with TLS), HttpOnly, SameSite=Strict cookie; every state change must
// pass net/http's cross-origin protection and echo the session's CSRF
// token; logins are rate limited per client address and per account.
// Every look at the query log is written to the access log first.
//
// dashboard reaches the running system only through the interfaces it
// defines (Site, QueryLog, Control) and reads numbers through a
// prometheus.Gatherer, so the status page and /metrics cannot disagree. It
// imports config and querylog for their types and must not import the
// resolver or policy internals; cmd/gatehouse wires it.
package dashboard
