package clientmap

import (
	"errors"
	"net/netip"
)

// Client is the identity of whoever sent a query, as far as we know it.
type Client struct {
	Addr  netip.Addr
	Group string // the group whose policy applies
	Rule  string // which rule placed the client in Group ("default" when none matched)
}

// Map assigns clients to groups. It is immutable after New.
type Map struct {
	defaultGroup string
}

// Config lists what a Map is built from.
type Config struct {
	// DefaultGroup receives every client that no rule places elsewhere.
	DefaultGroup string
}

// New builds a Map.
func New(cfg Config) (*Map, error) {
	if cfg.DefaultGroup == "" {
		return nil, errors.New("clientmap: a default group is required")
	}
	return &Map{defaultGroup: cfg.DefaultGroup}, nil
}

// Lookup identifies the client at addr. It does not allocate.
func (m *Map) Lookup(addr netip.Addr) Client {
	return Client{Addr: addr, Group: m.defaultGroup, Rule: "default"}
}
