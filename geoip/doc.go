// Package geoip answers "which country, which network (ASN) is this answer
// address in" for answer-side blocking, from MaxMind-format (.mmdb)
// databases: GeoLite2/GeoIP2 Country and ASN, and the DB-IP lite
// databases, which share their layout.
//
// Gatehouse only ever asks whether an address is in one of the countries
// or ASNs some group blocks, so an Index holds just that: when it is
// loaded it walks the database once and keeps the networks whose country
// or ASN is wanted, merged into sorted address ranges. A lookup is a
// binary search that does not allocate, the database file is not kept
// open, and a school blocking a handful of countries keeps a few thousand
// ranges rather than the whole database.
//
// geoip is a leaf: it imports no other Gatehouse package.
package geoip
