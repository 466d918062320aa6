package trust

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// FuzzReport feeds what a hostile or broken site might send through the
// collector's decoding and every rendering: nothing may panic, and no
// site-chosen string may open a tag in the HTML.
func FuzzReport(f *testing.F) {
	w, q := week("north")
	good, _ := json.Marshal(Build("north", weekStart, weekStart, weekStart, w, q, ShareIdentities))
	f.Add(good)
	f.Add([]byte(`{"version":1,"site":"<b>x","safeguarding":{"by_category":{"<i>":1}},"filtering":null}`))
	f.Add([]byte(`{"version":1,"identities":{"concerns":[{"device":"<script>"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Summary
		if json.Unmarshal(data, &s) != nil {
			return
		}
		rep := newReport("", weekStart, []SiteResult{{Name: s.Site, State: StateOK, Summary: &s}, {Name: s.Site, State: StateError, Error: s.Site}})
		var html bytes.Buffer
		if err := rep.WriteHTML(&html, london); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html.String(), "<script") || strings.Contains(html.String(), "<b>") || strings.Contains(html.String(), "<i>") {
			t.Errorf("a site's string opened a tag:\n%s", html.String())
		}
		rep.WriteText(io.Discard, london)
		rep.WriteJSON(io.Discard)
		rep.WithoutIdentities()
	})
}
