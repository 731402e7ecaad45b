package httpguard

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveGuarded serves "ok" behind a guard on 127.0.0.1.
func serveGuarded(t *testing.T, lim ConnLimits) (*ConnGuard, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := NewConnGuard(lim)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ConnState: g.ConnState, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
	go srv.Serve(g.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return g, ln.Addr().String()
}

// dialFrom opens a connection from a loopback address of 127.0.0.0/8.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a keep-alive GET on c and reads the answer; false when the
// server closed the connection instead.
func get(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200 && string(b) == "ok"
}

// waitFor polls cond (the guard counts asynchronously to the dialer).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestConnGuardPerClientTotalAndHeadroom(t *testing.T) {
	known := NewKnown(nil)
	known.Add("127.0.0.3")
	var mu sync.Mutex
	var reports []string
	g, addr := serveGuarded(t, ConnLimits{Total: 20, PerClient: 5, Headroom: 5, Known: known,
		OnRefuse: func(n int, client, why string) {
			mu.Lock()
			reports = append(reports, fmt.Sprint(n, client, why))
			mu.Unlock()
		}})

	// one address: five connections, the rest accepted and closed
	for range 10 {
		dialFrom(t, "127.0.0.1", addr)
	}
	waitFor(t, "the per-client limit", func() bool { s := g.Stats(); return s.Open == 5 && s.Refused == 5 })

	// other addresses fill the anonymous part (20 - 5 headroom)
	for _, from := range []string{"127.0.0.4", "127.0.0.5"} {
		for range 5 {
			dialFrom(t, from, addr)
		}
	}
	waitFor(t, "the anonymous part full", func() bool { return g.Stats().Open == 15 })
	if get(dialFrom(t, "127.0.0.6", addr)) {
		t.Error("an unknown client got in beyond the anonymous part")
	}
	// a client known to hold the key uses the headroom
	if !get(dialFrom(t, "127.0.0.3", addr)) {
		t.Fatal("a known client was refused while the headroom was free")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) == 0 || !strings.Contains(reports[0], "limit of connections") {
		t.Errorf("refusals reported %q", reports)
	}
}

// When the server is full, idle keep-alive connections are closed first,
// oldest first, so that a new client gets in.
func TestConnGuardEvictsIdleConnectionsFirst(t *testing.T) {
	g, addr := serveGuarded(t, ConnLimits{Total: 4, PerClient: 4})
	var idle []net.Conn
	for range 4 {
		c := dialFrom(t, "127.0.0.1", addr)
		if !get(c) {
			t.Fatal("request refused")
		}
		idle = append(idle, c)
	}
	waitFor(t, "four idle connections", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.idle) == 4 })
	if !get(dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("a new client was refused while idle connections held the server")
	}
	if s := g.Stats(); s.Evicted != 1 || s.Open != 4 {
		t.Errorf("stats %+v; want one idle connection evicted, four open", s)
	}
	// the evicted one is the oldest
	idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Error("the oldest idle connection is still open")
	}
}
