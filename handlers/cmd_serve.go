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

	"github.com/plautopilot/autopilot/pkg/httpguard"
	"github.com/plautopilot/autopilot/pkg/pipeline"
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
	// Information on stdout, warnings and errors on stderr: the levels the
	// Functions host gives each stream (see hostLogWriter).
	log, err := newLogger(&hostLogWriter{out: stdout, err: stderr}, os.Getenv(envLogLevel))
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
	a, stopWorkers := serveApp(ctx, os.Getenv, log)
	guard := newConnGuard(connLimitsFor(descriptorLimit(), false, false, nil), log)
	err = serve(ctx, ln, newServer(functions(a), log), invocationLimits, guard, log)
	if werr := stopWorkers(); err == nil && werr != nil {
		err = fmt.Errorf("workers: %w", werr)
	}
	if err != nil {
		log.Error().Err(err).Msg("handler stopped")
		fmt.Fprintf(stderr, "handler serve: %v\n", err)
		return 1
	}
	return 0
}

// serveApp returns the app the functions run on, and what stops its
// background work. With AUTOPILOT_SANDBOX set, the app runs on the sandbox
// with the embedded queue, and its reconcile and verify workers run here
// until stopWorkers (the Service Bus triggers are disabled under func start
// on the sandbox: local.settings.sandbox.json.example). Otherwise the
// production wiring is built now, in the background, so that a
// configuration error shows in the process output at start and not only at
// the first invocation.
func serveApp(ctx context.Context, getenv func(string) string, log zerolog.Logger) (a *app, stopWorkers func() error) {
	if strings.TrimSpace(getenv(envSandbox)) == "" {
		a = newApp(log)
		go a.wiring()
		return a, func() error { return nil }
	}
	w, sa, err := sandboxFromEnv(getenv, log)
	a = newAppWith(log, w, err)
	a.wiring() // logs a configuration error
	if err != nil {
		return a, func() error { return nil }
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sa.svc.RunStandalone(wctx, pipeline.StandaloneOptions{Store: sa.store, Workers: sandboxWorkers, Grace: shutdownTimeout})
	}()
	return a, func() error {
		cancel()
		err := <-done
		sa.close()
		return err
	}
}

// sandboxWorkers is how many jobs of each queue run at once in sandbox
// mode (the default of handler local).
const sandboxWorkers = 4

// errNoPort: the handler was started without the port the host passes.
var errNoPort = errors.New("no port")

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
		return "", fmt.Errorf("%w: set %s (or the older %s); the Functions host sets it when it starts the handler", errNoPort, envPort, envPortLegacy)
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
// finish (up to shutdownTimeout). guard, when set, bounds the connections.
func serve(ctx context.Context, ln net.Listener, h http.Handler, lim serverLimits, guard *httpguard.ConnGuard, log zerolog.Logger) error {
	srv := newHTTPServer(h, lim)
	addr := ln.Addr().String()
	listening := log.Info().Str("addr", addr)
	if guard != nil {
		ln, srv.ConnState = guard.Listener(ln), guard.ConnState
		l := guard.Limits()
		listening = listening.Dict("connectionLimits", zerolog.Dict().Int("total", l.Total).Int("perClient", l.PerClient).
			Int("headroom", l.Headroom).Uint64("descriptorLimit", descriptorLimit()))
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	listening.Msg("custom handler listening")

	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
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

// hostLogWriter sends each log line to the stream that gives it the right
// level in the Functions host. The host reads a custom handler's stdout as
// Information and its stderr as Error, except that a stderr line containing
// "warn" anywhere (case-insensitive) becomes a Warning (azure-functions-host
// WorkerProcess.ParseErrorMessageAndLog; HttpWorkerDescription sets
// UseStdErrorStreamForErrorsOnly). So: debug and info lines go to out,
// warnings to err, and errors to err with every "warn" in them written as
// "\u0077arn" (the same JSON text once decoded) so that the host keeps them
// at Error.
type hostLogWriter struct {
	out, err io.Writer
}

func (w *hostLogWriter) Write(p []byte) (int, error) { return w.out.Write(p) }

func (w *hostLogWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	switch {
	case l == zerolog.WarnLevel:
		return w.err.Write(p)
	case l >= zerolog.ErrorLevel && l <= zerolog.PanicLevel:
		if _, err := w.err.Write(escapeWarn(p)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.out.Write(p)
}

// escapeWarn rewrites the first letter of every "warn" (any case) in a JSON
// line as a \u escape. zerolog lines are JSON objects, where letters only
// occur inside strings, and no JSON escape ends in a letter w, so the
// decoded line is unchanged.
func escapeWarn(p []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i+4 <= len(p); i++ {
		if !strings.EqualFold(string(p[i:i+4]), "warn") {
			continue
		}
		out = append(out, p[last:i]...)
		if p[i] == 'W' {
			out = append(out, `\u0057`...)
		} else {
			out = append(out, `\u0077`...)
		}
		last = i + 1
	}
	if out == nil {
		return p
	}
	return append(out, p[last:]...)
}
