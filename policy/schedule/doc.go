// Package schedule holds school-time schedules as pure values: weekly
// periods (lessons Mon-Fri 08:40-15:20, lunch 12:10-13:00), a school
// calendar of terms and closures (holidays, INSET days), and the question
// the policy asks of them for every query: is this period in force now, and
// when does that next change (so answers can be given TTLs that expire at
// the edge).
//
// It has no goroutines, timers or I/O: callers pass the time. It is a leaf
// package, imported by config (to check schedule syntax with file positions)
// and by policy (to compile schedules into the snapshot).
package schedule
