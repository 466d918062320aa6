//go:build race

package querylog

// raceEnabled: the race detector slows the writer several times over.
const raceEnabled = true
