package main

import "testing"

// The query log writer gets what the machine leaves idle, unless queries
// are queuing in the DNS sockets.
func TestLogSpare(t *testing.T) {
	idle, known := 1.5, true
	var reads, full uint64
	l := logSpare{idle: func() (float64, bool) { return idle, known }}
	if got, ok := l.cores(); got != 1.5 || !ok {
		t.Fatalf("before DNS is served: %v, %v; want the idle figure", got, ok)
	}
	backlog := func() (uint64, uint64) { return reads, full }
	l.backlog.Store(&backlog)
	for _, tc := range []struct {
		name              string
		addReads, addFull uint64
		idle              float64
		known             bool
		want              float64
		wantOK            bool
	}{
		{"quiet sockets", 1000, 0, 1.5, true, 1.5, true},
		{"a few full reads", 1000, 50, 0.8, true, 0.8, true},
		{"queries queuing", 1000, 51, 1.5, true, 0, true},
		{"no reads: nothing to go by", 0, 0, 0.4, true, 0.4, true},
		{"idle unknown", 10, 0, 0, false, 0, false},
		{"queuing, idle unknown", 100, 90, 0, false, 0, true},
	} {
		reads += tc.addReads
		full += tc.addFull
		idle, known = tc.idle, tc.known
		if got, ok := l.cores(); got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}
