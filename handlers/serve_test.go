package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/funchost"
	"github.com/rs/zerolog"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// handlerBinary builds the handler once per test process (the Go build cache
// makes repeated runs cheap) and returns its path.
func handlerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "handler-test-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "handler"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "handler")
}

// freePort returns a loopback port nobody listens on, as the host picks one.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// hostEnv is the environment without any port variable of the caller.
func hostEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, envPort+"=") || strings.HasPrefix(kv, envPortLegacy+"=") || strings.HasPrefix(kv, envLogLevel+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// startBinary starts the handler as the Functions host does (with env
// added) and waits until "/" answers. It returns the base URL and the
// running command. stderr may be nil.
func startBinary(t testing.TB, bin string, stdout, stderr io.Writer, env ...string) (string, *exec.Cmd) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = hostEnv(append([]string{envPort + "=" + strconv.Itoa(port)}, env...)...)
	cmd.Stdout = stdout
	errs := &syncBuffer{}
	cmd.Stderr = errs
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(errs, stderr)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second) // what the host waits
	for {
		resp, err := client.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return base, cmd
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("handler never answered on /: %v; stderr: %s", err, errs.tail(8000))
		}
		time.Sleep(time.Millisecond)
	}
}

// hostLevel is the level the Functions host gives a line of the handler's
// output (azure-functions-host WorkerProcess: OnOutputDataReceived logs
// stdout as Information; ParseErrorMessageAndLog logs stderr as Warning
// when the line contains "warn", else as Error, since custom handlers use
// the stderr stream for errors only).
func hostLevel(stderr bool, line string) string {
	switch {
	case !stderr:
		return "Information"
	case strings.Contains(strings.ToLower(line), "warn"):
		return "Warning"
	}
	return "Error"
}

// rawLines returns the lines written so far, as text.
func (b *syncBuffer) rawLines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.FieldsFunc(b.buf.String(), func(r rune) bool { return r == '\n' })
}

func stopBinary(t testing.TB, cmd *exec.Cmd) error {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(shutdownTimeout + 5*time.Second):
		cmd.Process.Kill()
		return errors.New("handler did not exit after SIGTERM")
	}
}

func TestBinaryUnderHostProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handler binary")
	}
	bin := handlerBinary(t)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	base, cmd := startBinary(t, bin, stdout, stderr)

	status, body := invoke(t, base, fnResourceEvents, "inv-bin-1", envelope(t, "eventgrid-schema.json"))
	// No policy is configured: the function fails closed, naming the settings.
	if want := "ResourceEvents: configuration: AUTOPILOT_POLICY_FILE or AUTOPILOT_POLICY: not set"; status != http.StatusInternalServerError || !strings.Contains(body, want) {
		t.Errorf("ResourceEvents: status %d body %s; want 500 with %s", status, body, want)
	}
	status, body = invoke(t, base, fnReconcile, "inv-bin-2", []byte(`{"Data":{"message":"{}"},"Metadata":{"DeliveryCount":"x"}}`))
	if status != http.StatusBadRequest || !strings.Contains(body, "Reconcile: Metadata.DeliveryCount") {
		t.Errorf("bad envelope: status %d body %s; want 400 naming Metadata.DeliveryCount", status, body)
	}

	if err := stopBinary(t, cmd); err != nil {
		t.Fatalf("handler exit after SIGTERM: %v (want a clean exit)", err)
	}
	// The failures are on stderr, one line each, at a level the host logs
	// as Error: the host drops the body of a failed invocation.
	var got []string
	for _, l := range stderr.lines(t) {
		if id, _ := l["invocationId"].(string); id != "" {
			got = append(got, fmt.Sprintf("%s %s %s %v", l["level"], id, l["function"], l["status"]))
		}
	}
	want := []string{
		"error inv-bin-1 ResourceEvents 500",
		"error inv-bin-2 Reconcile 400",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("invocation failure lines on stderr (-got +want):\n%s", diff)
	}
	for _, l := range stderr.rawLines() {
		if lvl := hostLevel(true, l); lvl != "Error" {
			t.Errorf("the host would log %s, want Error: %s", lvl, l)
		}
	}
	var msgs []string
	for _, l := range stdout.lines(t) {
		if l["invocationId"] != nil {
			t.Errorf("invocation line on stdout (the host logs it as Information): %v", l)
		}
		msgs = append(msgs, fmt.Sprint(l["message"]))
	}
	if diff := cmp.Diff(msgs, []string{"custom handler listening", "shutting down", "stopped"}); diff != "" {
		t.Errorf("lifecycle log lines on stdout (-got +want):\n%s", diff)
	}
	if !strings.Contains(strings.Join(stderr.rawLines(), "\n"), "configuration is invalid") {
		t.Errorf("the configuration error is not on stderr: %s", stderr.tail(4000))
	}
}

func TestBinaryRefusesToStartWithoutPort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handler binary")
	}
	cmd := exec.Command(handlerBinary(t))
	cmd.Env = hostEnv()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2; output %s", err, out)
	}
	for _, want := range []string{envPort, envPortLegacy, "handler --help", "handler local --sandbox"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("hint %q does not say %s", out, want)
		}
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"custom handler port", map[string]string{envPort: "51234"}, "127.0.0.1:51234", ""},
		{"older http worker port", map[string]string{envPortLegacy: "40000"}, "127.0.0.1:40000", ""},
		{"newer name wins", map[string]string{envPort: "1", envPortLegacy: "2"}, "127.0.0.1:1", ""},
		{"neither set", map[string]string{}, "", "no port: set FUNCTIONS_CUSTOMHANDLER_PORT (or the older FUNCTIONS_HTTPWORKER_PORT)"},
		{"not a number", map[string]string{envPort: "http"}, "", `FUNCTIONS_CUSTOMHANDLER_PORT="http" is not a port number`},
		{"out of range", map[string]string{envPortLegacy: "70000"}, "", `FUNCTIONS_HTTPWORKER_PORT="70000" is not a port number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := listenAddr(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("listenAddr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNewLoggerLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    zerolog.Level
		wantErr bool
	}{
		{"", zerolog.InfoLevel, false},
		{"debug", zerolog.DebugLevel, false},
		{"WARN", zerolog.WarnLevel, false},
		{"loud", 0, true},
	}
	for _, tt := range tests {
		t.Run("level "+tt.in, func(t *testing.T) {
			l, err := newLogger(io.Discard, tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), envLogLevel) {
					t.Fatalf("error %v, want one naming %s", err, envLogLevel)
				}
				return
			}
			if err != nil || l.GetLevel() != tt.want {
				t.Fatalf("level %v, %v; want %v", l.GetLevel(), err, tt.want)
			}
		})
	}
}

// TestShutdownLetsInFlightInvocationsFinish: on SIGTERM (ctx cancelled) an
// invocation already running completes and its answer reaches the host.
func TestShutdownLetsInFlightInvocationsFinish(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	fns := map[string]FunctionHandler{
		"Slow": func(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
			close(started)
			<-release
			return &funchost.Response{Logs: []string{"finished"}}, nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, newServer(fns, zerolog.Nop()), invocationLimits, nil, zerolog.Nop()) }()

	type result struct {
		status int
		body   string
	}
	answered := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/Slow", "application/json", strings.NewReader(`{"Data":{}}`))
		if err != nil {
			answered <- result{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- result{resp.StatusCode, string(b)}
	}()
	<-started
	cancel()
	// Release the invocation only once shutdown has begun (the listener is
	// closed), so it really is in flight during Shutdown.
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	close(release)
	got := <-answered
	if want := (result{200, `{"Outputs":{},"Logs":["finished"],"ReturnValue":null}`}); got != want {
		t.Errorf("in-flight invocation got %+v, want %+v", got, want)
	}
	if err := <-served; err != nil {
		t.Errorf("serve returned %v, want a clean stop", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// BenchmarkBinaryReady measures the time from starting the handler binary
// to its first answer on "/" (the host's readiness probe), in ms/ready.
func BenchmarkBinaryReady(b *testing.B) {
	bin := handlerBinary(b)
	var total time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		_, cmd := startBinary(b, bin, io.Discard, nil)
		total += time.Since(start)
		n++
		if err := stopBinary(b, cmd); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(n), "ms/ready")
}

// TestHostLogLevels: each log line lands on the stream that gives it its
// level in the Functions host, and an error that mentions a warning is
// still an error there, with the same JSON once decoded.
func TestHostLogLevels(t *testing.T) {
	var out, errs syncBuffer
	log, err := newLogger(&hostLogWriter{out: &out, err: &errs}, "debug")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Msg("polling")
	log.Info().Msg("invocation done")
	log.Warn().Msg("the policy governs a subscription the setting does not list")
	reason := `Reconcile: Data.message: WARNING: "Warn" is not a job kind \warn`
	log.Error().Str("function", fnReconcile).Str("error", reason).Msg("invocation failed")

	var levels []string
	for _, l := range out.rawLines() {
		levels = append(levels, hostLevel(false, l))
	}
	for _, l := range errs.rawLines() {
		levels = append(levels, hostLevel(true, l))
	}
	if diff := cmp.Diff(levels, []string{"Information", "Information", "Warning", "Error"}); diff != "" {
		t.Errorf("host levels of debug, info, warn, error (-got +want):\n%s", diff)
	}
	lines := errs.lines(t)
	if len(lines) != 2 || lines[1]["error"] != reason || lines[1]["level"] != "error" {
		t.Errorf("the error line does not decode to what was logged: %v", lines)
	}
}

func TestAPITargetDropsTheFunctionKey(t *testing.T) {
	got := apiTarget(funchost.HTTPRequest{
		URL:   "https://func-autopilot.azurewebsites.net/api/evaluate?dryRun=true&code=secret-key",
		Query: map[string]string{"dryRun": "true", "code": "secret-key"},
	})
	if got != "/api/evaluate?dryRun=true" {
		t.Errorf("apiTarget = %q, want /api/evaluate?dryRun=true (the host's function key is not passed on)", got)
	}
}
