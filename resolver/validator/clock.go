package validator

import (
	"log/slog"
	"sync"
	"time"
)

// A Raspberry Pi has no real-time clock: until NTP sets it, the clock may
// be days or decades off, and then nearly every signature is "expired" or
// "not yet valid". clockWatch notices that pattern and logs one clear
// warning, so the operator fixes NTP instead of chasing DNS.
const (
	clockWindow    = time.Minute      // failures are counted per window
	clockMinFails  = 10               // at least this many time failures in a window...
	clockWarnEvery = 10 * time.Minute // ...and at most one warning this often
)

// clockWatch counts validated answers that were bogus only for time
// reasons (a signature expired or not yet valid, possibly remembered from
// an earlier query: with a wrong clock the root's own DNSKEY RRset fails
// first and stays failed) against all validated answers, per window.
type clockWatch struct {
	logger   *slog.Logger
	warnings func()

	mu       sync.Mutex
	start    time.Time // of the current window
	fails    int
	answers  int
	lastWarn time.Time
}

// record notes one validated answer at now, bogus for time reasons or
// not, and warns when most answers in the window failed that way.
func (c *clockWatch) record(now time.Time, timeFail bool) {
	c.mu.Lock()
	if now.Sub(c.start) >= clockWindow || now.Before(c.start) {
		c.start, c.fails, c.answers = now, 0, 0
	}
	c.answers++
	if timeFail {
		c.fails++
	}
	warn := timeFail && c.fails >= clockMinFails && 2*c.fails > c.answers &&
		(c.lastWarn.IsZero() || now.Sub(c.lastWarn) >= clockWarnEvery || now.Before(c.lastWarn))
	fails, answers := c.fails, c.answers
	if warn {
		c.lastWarn = now
	}
	c.mu.Unlock()
	if warn {
		c.warnings()
		c.logger.Warn("DNSSEC signatures are failing because they look expired or not yet valid: "+
			"the system clock is probably wrong. Check that NTP is working (timedatectl status); "+
			"until the clock is right, signed domains answer SERVFAIL",
			"time_failures", fails, "validated_answers", answers, "window", clockWindow, "clock", now.UTC().Format(time.RFC3339))
	}
}
