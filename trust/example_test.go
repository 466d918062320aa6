package trust_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"gatehouse/trust"
)

// A site serves its summary to the trust's token; the collector reads
// every site and adds them up, keeping sites it cannot read in the report.
func Example() {
	site := httptest.NewServer(trust.Handler{
		Token: "north-token-0123456789",
		Source: func(ctx context.Context, from, to time.Time) (trust.Summary, error) {
			return trust.Summary{Version: trust.Version, Site: "north", From: from, To: to,
				Safeguarding: &trust.Safeguarding{Concerns: 2, Open: 1, AuditVerified: true}}, nil
		},
	})
	defer site.Close()

	c := trust.NewCollector([]trust.SiteConfig{
		{Name: "North Academy", URL: site.URL, Token: "north-token-0123456789"},
		{Name: "South Academy", URL: site.URL, Token: "an-old-token-0123456789"},
	}, &http.Client{Timeout: 5 * time.Second}, "", nil)
	rep := c.Collect(context.Background(), "2026-11-16")
	for _, s := range rep.Sites {
		fmt.Println(s.Name, s.State)
	}
	fmt.Printf("%d of %d sites, %d concerns, %d open\n", rep.Total.Reached, rep.Total.Sites, rep.Total.Safeguarding.Concerns, rep.Total.Safeguarding.Open)
	// Output:
	// North Academy ok
	// South Academy forbidden
	// 1 of 2 sites, 2 concerns, 1 open
}
