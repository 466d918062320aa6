package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gatehouse/blocklists"
	"gatehouse/policy/override"
)

// The control plane: what the CLI (over a unix socket) and the dashboard
// (in process) may change at run time. Changes are recorded durably first
// and then swapped into the policy by the reload loop, which stays the
// single writer of the policy in force.

// controlSocketName is the control socket's file in the state directory.
const controlSocketName = "control.sock"

// controlKind is what the reload loop is asked to do.
type controlKind int

const (
	ctlReloadLists controlKind = iota // re-read lists and config, re-check downloads
	ctlOverrides                      // the override store changed: recompile them in
)

// controlReq is one request to the reload loop; the loop answers on done.
type controlReq struct {
	kind controlKind
	done chan error
}

// ask hands a request to the reload loop and waits for its result. It
// fails when ctx ends or the loop has stopped (the server is shutting
// down). The loop runs inside run: a site that was only built (newSite)
// answers nothing, and ask waits for ctx.
func (s *site) ask(ctx context.Context, kind controlKind) error {
	req := controlReq{kind: kind, done: make(chan error, 1)}
	select {
	case s.ctlCh <- req:
	case <-s.loopDone:
		return errors.New("gatehouse is shutting down")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReloadLists re-reads the config and every local list (unchanged lists
// are carried over) and asks for every downloaded list to be re-checked
// (a conditional GET; a changed copy is swapped in when it arrives), like
// SIGHUP. It returns the reload's error, if any; the policy in force then
// stays.
func (s *site) ReloadLists(ctx context.Context) error {
	return s.ask(ctx, ctlReloadLists)
}

// AcceptList makes the held copy of the downloaded list name (a download
// rejected for having far fewer valid lines than the last good copy) the
// list in force, without downloading it again; by names who accepted it,
// for the log. The reload loop rebuilds the policy with it in a moment.
func (s *site) AcceptList(ctx context.Context, name, by string) error {
	v := s.view.Load()
	if v == nil || v.refresher == nil {
		return fmt.Errorf("accepting list %q: %w", name, errNotDownloaded)
	}
	m, err := v.refresher.r.Accept(name, by)
	if err != nil {
		return err
	}
	s.log.Info("list accepted", "list", name, "by", by, "version", m.Version(), "valid_lines", m.ValidLines)
	return nil
}

// errNotDownloaded: the config downloads no lists.
var errNotDownloaded = errors.New("not a downloaded list")

// ListOverrides returns the overrides in force and the recent history
// (cancelled and expired ones), oldest first.
func (s *site) ListOverrides(ctx context.Context) ([]override.Override, error) {
	return s.overrides.List(), nil
}

// CreateOverride validates r against the policy in force, records it and
// puts it into effect before returning. r.By names who asked.
func (s *site) CreateOverride(ctx context.Context, r override.Request) (override.Override, error) {
	o, err := s.overrides.Add(r, s.server.Policy(), time.Now())
	if err != nil {
		return override.Override{}, err
	}
	s.log.Info("override created", "id", o.ID, "group", o.Group, "action", o.Action, "target", o.Target(),
		"until", o.Until, "by", o.CreatedBy, "reason", o.Reason)
	if err := s.ask(ctx, ctlOverrides); err != nil {
		return o, fmt.Errorf("override %s is recorded but not yet in force: %w", o.ID, err)
	}
	return o, nil
}

// CancelOverride ends the override id now, recording by, and takes it out
// of the policy before returning.
func (s *site) CancelOverride(ctx context.Context, id, by string) error {
	o, err := s.overrides.Cancel(id, by, time.Now())
	if err != nil {
		return err
	}
	s.log.Info("override cancelled", "id", o.ID, "group", o.Group, "target", o.Target(), "by", by)
	return s.ask(ctx, ctlOverrides)
}

// applyOverrides recompiles the overrides in force into the policy. The
// reload loop calls it; it returns when the next one expires (zero: none),
// so the loop can drop it then. Decide ignores expired overrides by itself,
// so that is housekeeping, not correctness.
func (s *site) applyOverrides() time.Time {
	now := time.Now()
	active := s.overrides.Active(now)
	s.server.SetPolicy(s.server.Policy().WithOverrides(active, now))
	var next time.Time
	for _, o := range active {
		if next.IsZero() || o.Until.Before(next) {
			next = o.Until
		}
	}
	return next
}

// controlServer serves the control API on a unix socket.
type controlServer struct {
	path string
	hs   *http.Server
	done chan struct{}
}

// startControl listens on the control socket in dir. The socket is mode
// 0660: root and the service's group may use it. A socket left by a server
// that died is replaced; one a running server answers on is left to it (an
// error here: two servers sharing a state directory get one socket).
func (s *site) startControl(dir string) (*controlServer, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	path := filepath.Join(dir, controlSocketName)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another gatehouse is running with this state directory", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: removing a stale %s: %w", path, err)
	}
	// Create it with no permissions for others from the start, then
	// widen to the group: no moment where others could connect.
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cs := &controlServer{path: path, done: make(chan struct{})}
	cs.hs = &http.Server{
		Handler:           s.controlHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A list reload can take a while on a Pi with millions of names.
		WriteTimeout: 5 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, peerUser(c))
		},
	}
	go func() {
		defer close(cs.done)
		if err := cs.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("control socket stopped", "error", err)
		}
	}()
	return cs, nil
}

func (cs *controlServer) close() {
	if cs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs.hs.Shutdown(ctx)
	<-cs.done
}

// peerKey is the context key of the connecting OS user's name.
type peerKey struct{}

// peerUser names the OS user at the other end of a unix socket connection,
// from the kernel's peer credentials (SO_PEERCRED): a client cannot claim
// to be someone else.
func peerUser(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "unknown"
	}
	uid, err := peerUID(uc)
	if err != nil {
		return "unknown"
	}
	return userName(uid)
}

// controlHandler routes the control API. Every answer is JSON; errors are
// {"error": "..."} with a status saying whose fault it was.
func (s *site) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/lists/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ReloadLists(r.Context()); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"generation": s.server.Policy().Gen})
	})
	mux.HandleFunc("POST /v1/lists/{name}/accept", func(w http.ResponseWriter, r *http.Request) {
		if err := s.AcceptList(r.Context(), r.PathValue("name"), r.Context().Value(peerKey{}).(string)); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/overrides", func(w http.ResponseWriter, r *http.Request) {
		l, err := s.ListOverrides(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		if l == nil {
			l = []override.Override{}
		}
		writeJSON(w, http.StatusOK, l)
	})
	mux.HandleFunc("POST /v1/overrides", func(w http.ResponseWriter, r *http.Request) {
		var req override.Request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, fmt.Errorf("%w: request body: %w", override.ErrInvalid, err))
			return
		}
		req.By = r.Context().Value(peerKey{}).(string)
		o, err := s.CreateOverride(r.Context(), req)
		if err != nil && o.ID == "" {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, o)
	})
	mux.HandleFunc("DELETE /v1/overrides/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.CancelOverride(r.Context(), r.PathValue("id"), r.Context().Value(peerKey{}).(string)); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, blocklists.ErrLocked):
		status = http.StatusForbidden
	case errors.Is(err, override.ErrNotFound), errors.Is(err, blocklists.ErrNothingHeld):
		status = http.StatusNotFound
	case errors.Is(err, override.ErrInvalid):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// controlClient talks to a running server's control socket.
type controlClient struct {
	path string
	hc   *http.Client
}

func newControlClient(dir string) *controlClient {
	path := filepath.Join(dir, controlSocketName)
	return &controlClient{path: path, hc: &http.Client{
		Timeout: 6 * time.Minute,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", path)
			},
		},
	}}
}

// do sends a request with body v (nil: none) and decodes the answer into
// out (nil: ignore it).
func (c *controlClient) do(ctx context.Context, method, route string, v, out any) error {
	var body *strings.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = strings.NewReader(string(b))
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://gatehouse"+route, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.dialError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error == "" {
			return fmt.Errorf("control socket %s: %s", c.path, resp.Status)
		}
		return errors.New(e.Error)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("control socket %s: reading the answer: %w", c.path, err)
	}
	return nil
}

// dialError says what a technician should do when the socket fails.
func (c *controlClient) dialError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("gatehouse is not running: there is no control socket at %s (start the server, or point --state-dir or --config at the one that is running)", c.path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("gatehouse is not running: nothing answers on %s (a server stopped without removing it)", c.path)
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("permission denied on %s: run as root or as a member of the group that owns it", c.path)
	}
	return fmt.Errorf("control socket %s: %w", c.path, err)
}
