// Package dnstest holds helpers for tests that speak DNS: building records
// and queries from zone-file text, an authoritative Zone handler, and real
// miekg/dns servers on loopback (plain and TLS) that shut down with the test.
//
// It is imported only by _test.go files. Helpers take a testing.TB and fail
// the test instead of returning errors. Nothing here uses global state: every
// server is given its handler explicitly, never dns.DefaultServeMux.
package dnstest
