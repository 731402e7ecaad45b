package main

import (
	"bufio"
	"fmt"
	"github.com/plautopilot/autopilot/pkg/httpguard"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Both servers set every timeout: none is left at "forever".
func TestServerLimitsAllSet(t *testing.T) {
	for name, l := range map[string]serverLimits{"functions": invocationLimits, "local": localLimits} {
		srv := newHTTPServer(http.NotFoundHandler(), l)
		if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
			t.Errorf("%s server: read header %s, read %s, write %s, idle %s, header bytes %d; want all set",
				name, srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
		}
	}
	if invocationLimits.Write <= 5*time.Minute {
		t.Errorf("functions server write timeout %s does not outlast host.json's functionTimeout of 5 minutes", invocationLimits.Write)
	}
}

// startLimited serves a handler that reads the whole body, with short
// limits, and reports what the handler's read returned.
func startLimited(t *testing.T, l serverLimits) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reads := make(chan error, 4)
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		reads <- err
		if err == nil {
			io.WriteString(w, "ok")
		}
	}), l)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), reads
}

// closedWithin reads from conn until the server closes it, failing after
// a generous deadline (the test's bound, not a timing assertion).
func closedWithin(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open", what)
	}
}

func TestSlowBodyIsCutOff(t *testing.T) {
	addr, reads := startLimited(t, serverLimits{ReadHeader: time.Second, Read: 300 * time.Millisecond, Write: time.Second, Idle: time.Second, MaxHeaderBytes: 4096})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	// one byte every 50 ms: the body would take 50 s
	stop := make(chan struct{})
	go func() {
		for range 1000 {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte("[")); err != nil {
				return
			}
		}
	}()
	defer close(stop)
	select {
	case err := <-reads:
		if err == nil {
			t.Fatal("the handler read the whole slow body")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the handler is still reading the slow body")
	}
	closedWithin(t, conn, "slow body")
}

func TestSlowHeadersAndIdleConnectionsAreClosed(t *testing.T) {
	addr, _ := startLimited(t, serverLimits{ReadHeader: 200 * time.Millisecond, Read: time.Second, Write: time.Second, Idle: 200 * time.Millisecond, MaxHeaderBytes: 4096})
	// headers that never end
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	closedWithin(t, conn, "unfinished headers")

	// a kept-alive connection that sends nothing more
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "ok") {
		t.Fatalf("first request answered %q", b)
	}
	closedWithin(t, idle, "idle keep-alive connection")
}

// The connection limits follow the descriptor limit: a quarter stays for
// everything else, one client gets at most 64, a keyed server keeps an
// eighth as headroom; the Functions host's server bounds only the total.
func TestConnLimitsFromTheDescriptorLimit(t *testing.T) {
	known := httpguard.NewKnown(nil)
	for _, tt := range []struct {
		nofile                  uint64
		perClient, keyed        bool
		total, client, headroom int
	}{
		{2048, true, true, 1536, 64, 192},
		{2048, true, false, 1536, 64, 0},
		{2048, false, false, 1536, 0, 0},
		{1 << 20, true, true, maxConns, 64, maxConns / 8},
		{256, true, true, 192, 12, 24},
		{0, true, true, 768, 48, 96}, // unknown: 1024 assumed
	} {
		l := connLimitsFor(tt.nofile, tt.perClient, tt.keyed, known)
		if l.Total != tt.total || l.PerClient != tt.client || l.Headroom != tt.headroom {
			t.Errorf("nofile %d perClient %v keyed %v: total %d per client %d headroom %d; want %d %d %d",
				tt.nofile, tt.perClient, tt.keyed, l.Total, l.PerClient, l.Headroom, tt.total, tt.client, tt.headroom)
		}
		if int(tt.nofile) > 0 && uint64(l.Total) >= tt.nofile {
			t.Errorf("nofile %d: total %d leaves no descriptor for anything else", tt.nofile, l.Total)
		}
	}
}
