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

// startBinary starts the handler as the Functions host does and waits until
// "/" answers. It returns the base URL and the running command.
func startBinary(t testing.TB, bin string, stdout io.Writer) (string, *exec.Cmd) {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = hostEnv(envPort + "=" + strconv.Itoa(port))
	cmd.Stdout = stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
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
			t.Fatalf("handler never answered on /: %v; stderr: %s", err, stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
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
	stdout := &syncBuffer{}
	base, cmd := startBinary(t, bin, stdout)

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
	var got []string
	for _, l := range stdout.lines(t) {
		if id, _ := l["invocationId"].(string); id != "" {
			got = append(got, fmt.Sprintf("%s %s %s %v", l["level"], id, l["function"], l["status"]))
		}
	}
	want := []string{
		"error inv-bin-1 ResourceEvents 500",
		"error inv-bin-2 Reconcile 400",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("invocation log lines (-got +want):\n%s", diff)
	}
	var msgs []string
	for _, l := range stdout.lines(t) {
		if l["invocationId"] == nil {
			msgs = append(msgs, fmt.Sprint(l["message"]))
		}
	}
	if diff := cmp.Diff(msgs, []string{"custom handler listening", "configuration is invalid: every function fails until it is fixed and the app restarted", "shutting down", "stopped"}); diff != "" {
		t.Errorf("lifecycle log lines (-got +want):\n%s", diff)
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
	for _, name := range []string{envPort, envPortLegacy} {
		if !strings.Contains(string(out), name) {
			t.Errorf("message %q does not name %s", out, name)
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
	go func() { served <- serve(ctx, ln, newServer(fns, zerolog.Nop()), invocationLimits, zerolog.Nop()) }()

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
		_, cmd := startBinary(b, bin, io.Discard)
		total += time.Since(start)
		n++
		if err := stopBinary(b, cmd); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(n), "ms/ready")
}
