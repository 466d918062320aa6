package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"gatehouse/config"
)

// startRedirect starts listen.dashboard_redirect: plain HTTP answered with
// a redirect to the HTTPS dashboard (validation makes sure there is one).
// stop closes it; with the listener off both are no-ops.
func (s *site) startRedirect() (stop func(), err error) {
	a, to := s.cfg.Listen.DashboardRedirect, s.cfg.Listen.HTTP
	if a == nil || to == nil || s.dashCert == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.String())
	if err != nil {
		return func() {}, fmt.Errorf("listen dashboard_redirect: %w", err)
	}
	hs := &http.Server{
		Handler:           httpsRedirect(*to),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("dashboard redirect listener stopped", "error", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		hs.Shutdown(ctx)
		cancel()
	}, nil
}

// httpsRedirect sends every request to the same path on the HTTPS
// dashboard at to: the host the browser asked for (so a name in DNS keeps
// working) when it is a plain host name or address, else to's address.
// The redirect is temporary (302): a browser must not remember it past a
// configuration change.
func httpsRedirect(to config.ListenAddr) http.Handler {
	port := strconv.Itoa(int(to.Port))
	fallback := "localhost"
	if to.Addr.IsValid() && !to.Addr.IsUnspecified() {
		fallback = to.Addr.String()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !plainHost(host) {
			host = fallback
		}
		http.Redirect(w, r, "https://"+net.JoinHostPort(host, port)+r.URL.RequestURI(), http.StatusFound)
	})
}

// plainHost reports whether h is a host name or an IP address and nothing
// else (no user info, path or odd bytes from a hostile Host header).
func plainHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}
