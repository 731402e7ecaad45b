package main

import (
	"net/http"
	"time"

	"github.com/plautopilot/autopilot/pkg/httpguard"
	"github.com/rs/zerolog"
)

// serverLimits are the timeouts of an HTTP server. Without them a client
// that sends its body a byte a second, or never reads the answer, holds a
// connection (and a goroutine) for as long as it likes.
type serverLimits struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included.
	Read time.Duration
	// Write bounds the handler and the writing of its answer, from the end
	// of the headers.
	Write time.Duration
	// Idle bounds a kept-alive connection waiting for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds the request headers.
	MaxHeaderBytes int
}

// invocationLimits serve the Functions host: an invocation may run up to
// host.json's functionTimeout (5 minutes), so the write timeout is above
// it; the host sends its bodies at once.
var invocationLimits = serverLimits{
	ReadHeader: 10 * time.Second, Read: 60 * time.Second, Write: 5*time.Minute + 30*time.Second,
	Idle: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
}

// localLimits serve `handler local`, reachable by any client of --listen:
// Event Grid waits 30 seconds for an answer, and the API answers in seconds.
// An idle keep-alive connection is closed after 30 seconds (and at once
// when the server is full, see httpguard.ConnGuard).
var localLimits = serverLimits{
	ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second,
	Idle: 30 * time.Second, MaxHeaderBytes: 64 << 10,
}

// newHTTPServer returns a server for h with the given limits.
func newHTTPServer(h http.Handler, l serverLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Connection limits, derived from the descriptor limit (issue 26: one
// address's 20,000 idle connections used every descriptor, and keyed
// requests got no answer).
const (
	// maxConns bounds the connections whatever the descriptor limit (each
	// holds a goroutine and its buffers).
	maxConns = 10_000
	// maxConnsPerClient bounds one client's (an IPv4 address, an IPv6 /64)
	// connections to `handler local`.
	maxConnsPerClient = 64
	// unknownDescriptorLimit is assumed when the limit cannot be read.
	unknownDescriptorLimit = 1024
)

// connLimitsFor returns the connection limits of a server in a process
// allowed nofile descriptors: a quarter of them (at least 64) stay for
// everything else (the queue, files, DNS, outgoing ARM calls). For
// `handler local` (perClient), one client holds at most 64 (and at most a
// sixteenth of the total), and with a key (keyed) an eighth of the total is
// headroom only clients that presented the key may use. The Functions
// host is its handler's only client: no per-client bound there.
func connLimitsFor(nofile uint64, perClient, keyed bool, known *httpguard.Known) httpguard.ConnLimits {
	if nofile == 0 {
		nofile = unknownDescriptorLimit
	}
	reserve := max(64, nofile/4)
	total := 16
	if nofile > reserve+16 {
		total = int(min(nofile-reserve, maxConns))
	}
	l := httpguard.ConnLimits{Total: total}
	if perClient {
		l.PerClient = max(4, min(maxConnsPerClient, total/16))
	}
	if keyed {
		l.Headroom, l.Known = max(4, total/8), known
	}
	return l
}

// newConnGuard returns the guard of lim, logging refusals (at most one line
// every ten seconds).
func newConnGuard(lim httpguard.ConnLimits, log zerolog.Logger) *httpguard.ConnGuard {
	lim.OnRefuse = func(n int, client, why string) {
		log.Warn().Int("refused", n).Str("lastClient", client).Str("why", why).Msg("connections refused")
	}
	return httpguard.NewConnGuard(lim)
}
