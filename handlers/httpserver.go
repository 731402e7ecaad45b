package main

import (
	"net/http"
	"time"
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
var localLimits = serverLimits{
	ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second,
	Idle: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
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
