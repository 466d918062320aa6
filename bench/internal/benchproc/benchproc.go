//go:build linux

// Package benchproc starts and stops the processes the benchmark harnesses
// run side by side (Gatehouse, Unbound, dnsperf), and finds free loopback
// ports for them. Children get their own process group, so stopping one
// stops anything it forked, and the kernel kills them if the harness dies.
package benchproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a child the harness started.
type Process struct {
	Name string // label for messages
	cmd  *exec.Cmd
	log  string // path of its combined stdout and stderr
	done chan struct{}
	err  error // Wait's result, valid after done
}

// Start runs name args... with env added to the environment (nil: just the
// harness's) and stdout and stderr appended to logPath. label names the
// process in messages.
func Start(label, logPath string, env []string, name string, args ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", label, err)
	}
	defer f.Close() // the child holds its own copy
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = ChildAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", label, err)
	}
	p := &Process{Name: label, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// ChildAttr puts a child in its own process group (so Ctrl-C at the
// terminal reaches only the harness, which then stops it) and has the
// kernel kill it if the harness dies without cleaning up.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Pid is the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the child exited; nil while it runs.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
	// Anything left in the group (there should be nothing).
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
}

// UseLog makes LogTail read path: for programs that write their own log
// file (Unbound's logfile) rather than to stdout and stderr.
func (p *Process) UseLog(path string) { p.log = path }

// LogTail is the end of the child's log, for error messages.
func (p *Process) LogTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	const n = 2000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// FreePort finds a port free for both UDP and TCP on 127.0.0.1. Another
// process could take it before the server binds; the server then fails to
// start and the harness says so.
func FreePort() (int, error) {
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return port, nil
	}
	return 0, errors.New("finding a free port: none free for both udp and tcp")
}
