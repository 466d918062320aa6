package dashboard

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"gatehouse/querylog"
)

type deviceView struct {
	Query    string
	Error    string
	Device   *Device
	Identity bool
	Recent   []entryView
	Blocked  []entryView
}

func (d *Dashboard) devicePage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	v := deviceView{Query: strings.TrimSpace(r.URL.Query().Get("client")), Identity: can(sess.Role, permIdentity)}
	if v.Query == "" {
		d.render(w, r, sess, http.StatusOK, "device", v)
		return
	}
	addr, err := netip.ParseAddr(v.Query)
	if err != nil {
		v.Error = "Enter the device's IP address, e.g. 10.20.3.4."
		d.render(w, r, sess, http.StatusBadRequest, "device", v)
		return
	}
	addr = addr.Unmap()
	if err := d.recordAccess(r, "device", "client="+addr.String()); err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the device is not shown.")
		return
	}
	dev := d.cfg.Site.Identify(addr, d.now())
	if !v.Identity {
		dev.MAC, dev.Hostname = "", ""
	}
	v.Device = &dev
	if d.cfg.QueryLog != nil {
		recent, err := d.cfg.QueryLog.Search(r.Context(), querylog.Filter{Client: addr.String(), Limit: 25})
		if err != nil {
			v.Error = "Reading the query log: " + err.Error()
		}
		v.Recent = d.toView(recent.Entries, v.Identity)
		blocked, err := d.cfg.QueryLog.Search(r.Context(), querylog.Filter{Client: addr.String(), Decision: querylog.Blocked,
			From: d.now().Add(-7 * 24 * time.Hour), Limit: 25})
		if err != nil {
			v.Error = "Reading the query log: " + err.Error()
		}
		v.Blocked = d.toView(blocked.Entries, v.Identity)
	}
	d.render(w, r, sess, http.StatusOK, "device", v)
}
