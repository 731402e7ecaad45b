package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Environment the custom handler reads (see docs/functions-host.md).
const (
	envPort       = "FUNCTIONS_CUSTOMHANDLER_PORT"
	envPortLegacy = "FUNCTIONS_HTTPWORKER_PORT"
	envLogLevel   = "AUTOPILOT_LOG_LEVEL"
)

// shutdownTimeout bounds how long in-flight invocations may finish after
// SIGTERM. An invocation cut short is retried by its trigger (the message
// lock expires, Event Grid redelivers), which every handler tolerates.
const shutdownTimeout = 10 * time.Second

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: handler serve\n\nRuns as the Azure Functions custom handler on 127.0.0.1:$%s.\n", envPort)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "handler serve: unexpected arguments %q\n", fs.Args())
		return 2
	}
	addr, err := listenAddr(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "handler serve: %v\n", err)
		return 2
	}
	log, err := newLogger(stdout, os.Getenv(envLogLevel))
	if err != nil {
		fmt.Fprintf(stderr, "handler serve: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "handler serve: listen: %v\n", err)
		return 1
	}
	if err := serve(ctx, ln, newServer(functions(newApp(log)), log), invocationLimits, log); err != nil {
		log.Error().Err(err).Msg("handler stopped")
		fmt.Fprintf(stderr, "handler serve: %v\n", err)
		return 1
	}
	return 0
}

// listenAddr returns 127.0.0.1:<port> from the port the Functions host
// passes.
func listenAddr(getenv func(string) string) (string, error) {
	name := envPort
	port := strings.TrimSpace(getenv(envPort))
	if port == "" {
		name = envPortLegacy
		port = strings.TrimSpace(getenv(envPortLegacy))
	}
	if port == "" {
		return "", fmt.Errorf("no port: set %s (or the older %s); the Functions host sets it when it starts the handler", envPort, envPortLegacy)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%s=%q is not a port number (0-65535)", name, port)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n)), nil
}

// newLogger returns the JSON logger on w at the level named by level
// (trace, debug, info, warn, error; empty means info).
func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl := zerolog.InfoLevel
	if s := strings.TrimSpace(level); s != "" {
		var err error
		if lvl, err = zerolog.ParseLevel(strings.ToLower(s)); err != nil || lvl == zerolog.NoLevel {
			return zerolog.Logger{}, fmt.Errorf("%s=%q is not a log level (trace, debug, info, warn, error)", envLogLevel, level)
		}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// serve serves h on ln until ctx ends, then lets in-flight invocations
// finish (up to shutdownTimeout).
func serve(ctx context.Context, ln net.Listener, h http.Handler, lim serverLimits, log zerolog.Logger) error {
	srv := newHTTPServer(h, lim)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Msg("custom handler listening")

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", shutdownTimeout).Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: in-flight invocations did not finish: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}
