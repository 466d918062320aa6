package safeguarding

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gatehouse/safeguarding/deliver"
)

// restartConfig is the engine both processes of TestRestartMidDelivery
// run: one recipient with one webhook.
func restartConfig(path, url string) Config {
	return Config{
		Path:    path,
		Initial: Settings{Recipients: []Recipient{{Name: "dsl", Role: TeamSafeguarding, Webhooks: []string{"hook"}}}},
		Infra:   Infrastructure{Webhooks: []*deliver.Webhook{{Name: "hook", URL: url, Format: deliver.FormatJSON}}},
		Tick:    time.Hour, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	}
}

// TestRestartChild is the first process of TestRestartMidDelivery: it
// raises five critical concerns and delivers until it is killed.
func TestRestartChild(t *testing.T) {
	path, url := os.Getenv("SAFEGUARDING_CHILD_DB"), os.Getenv("SAFEGUARDING_CHILD_HOOK")
	if path == "" {
		t.Skip("run by TestRestartMidDelivery")
	}
	e, err := Open(context.Background(), restartConfig(path, url))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 5 {
		e.Observe(entry(now, "10.30.0."+string(rune('1'+i)), "PC", "pupils", "iwf", "listed.example."))
	}
	e.Run(context.Background()) // until SIGKILL
}

// TestRestartMidDelivery kills (SIGKILL) a process in the middle of
// sending the third of five alerts, starts a new engine on the same
// database, and checks nothing is lost: every alert arrives, the one in
// flight at the kill arrives twice with the same idempotency key
// (at-least-once), and no other is repeated.
func TestRestartMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	var mu sync.Mutex
	got := map[string]int{}
	var order []string
	blockThird := true
	third := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		got[key]++
		order = append(order, key)
		block := blockThird && len(order) == 3
		mu.Unlock()
		if block {
			close(third)
			<-r.Context().Done() // hang until the sender dies
			return
		}
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "safeguarding.db")

	cmd := exec.Command(os.Args[0], "-test.run=^TestRestartChild$", "-test.v")
	cmd.Env = append(os.Environ(), "SAFEGUARDING_CHILD_DB="+path, "SAFEGUARDING_CHILD_HOOK="+srv.URL)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-third:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the child never reached the third delivery")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	mu.Lock()
	inFlight := order[2]
	blockThird = false
	mu.Unlock()

	e, err := Open(context.Background(), restartConfig(path, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "every alert delivered", func() bool {
		h, err := e.Health(context.Background())
		return err == nil && h.Pending == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("%d distinct alerts delivered, want 5: %v", len(got), got)
	}
	for key, n := range got {
		want := 1
		if key == inFlight {
			want = 2
		}
		if n != want {
			t.Errorf("alert %s delivered %d times, want %d", key, n, want)
		}
	}
	q, err := e.Queue(context.Background(), QueueFilter{})
	if err != nil || len(q) != 5 {
		t.Errorf("concerns after restart: %d, %v; want 5", len(q), err)
	}
}
