package recursor

// SetRand replaces r's source of randomness (server choice among equals,
// order of glueless lookups), so tests see a predictable exchange order.
func SetRand(r *Recursor, f func(n int) int) { r.randIntN = f }
