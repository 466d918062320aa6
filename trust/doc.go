// Package trust is trust-wide reporting for a multi-academy trust that
// runs one Gatehouse per school site (docs/trust.md).
//
// Each site serves its weekly Summary as JSON at /api/trust/summary on
// the dashboard listener, to a bearer token only (Handler). A Collector
// fetches every site's summary and builds a Report: per site and in
// total, rendered as text, JSON or a printable HTML page. A site that
// cannot be reached, or refuses the token, is shown as such with the last
// time it was reached, never left out.
//
// A Summary is aggregate counts by default: no pupil's address, MAC,
// host name or query name leaves the site. A site whose trust DSL is
// entitled to more sets trust.serve.share: identities, and its summary
// then also lists the week's concerns with their devices and the bypass
// attempts per device.
package trust
