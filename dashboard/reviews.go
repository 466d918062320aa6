package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"gatehouse/dashboard/store"
)

type reviewsView struct {
	Reviews []store.Review
	All     bool
	Message string
	Error   string
	CSRF    string
}

func (d *Dashboard) reviewsPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	v := reviewsView{All: r.URL.Query().Get("all") == "1", Message: flashText(r.URL.Query().Get("msg")), CSRF: sess.CSRF}
	var err error
	if v.Reviews, err = d.cfg.Store.Reviews(r.Context(), v.All, 200); err != nil {
		v.Error = err.Error()
	}
	d.render(w, r, sess, http.StatusOK, "reviews", v)
}

func (d *Dashboard) closeReview(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusBadRequest, "No such review request.")
		return
	}
	if err := d.cfg.Store.CloseReview(r.Context(), id, sess.User, strings.TrimSpace(r.PostFormValue("note")), d.now()); err != nil {
		d.renderStatus(w, r, sess, http.StatusBadRequest, err.Error())
		return
	}
	http.Redirect(w, r, "/reviews?msg=closed", http.StatusSeeOther)
}
