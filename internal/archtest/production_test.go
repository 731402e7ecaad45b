package archtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The production build of the handler (make build: -tags production, the
// binary make stage puts in the function app) leaves out the dev harnesses
// and the SDK's fake servers; the default build keeps them.
var harnesses = []string{
	"github.com/plautopilot/autopilot/internal/sandbox",
	"github.com/plautopilot/autopilot/internal/sandboxnet",
	"github.com/plautopilot/autopilot/internal/demo",
	"github.com/plautopilot/autopilot/internal/loadtest",
}

const handlersPkg = "github.com/plautopilot/autopilot/handlers"

// deps lists what the handler links in a build with these go build flags.
func deps(t *testing.T, flags ...string) map[string]bool {
	t.Helper()
	args := append(append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, flags...), handlersPkg)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		m[p] = true
	}
	return m
}

// fakes are the SDK's fake-server packages among ds (azcore/fake, the
// resource managers' fake packages). azcore/internal/pollers/fake is not
// one: azcore's runtime.NewPoller links it to recognise the fakes' LRO
// responses, in every client.
func fakes(ds map[string]bool) []string {
	var out []string
	for p := range ds {
		if p == sdkPrefix+"sdk/azcore/internal/pollers/fake" {
			continue
		}
		if strings.HasPrefix(p, sdkPrefix) && (strings.HasSuffix(p, "/fake") || strings.Contains(p, "/fake/")) {
			out = append(out, p)
		}
	}
	return out
}

func TestProductionBuildLinksNoHarness(t *testing.T) {
	prod := deps(t, "-tags", "production")
	for _, h := range harnesses {
		if prod[h] {
			t.Errorf("the production build of the handler links %s (a dev harness: keep it behind //go:build !production, handlers/build_dev.go)", h)
		}
	}
	if f := fakes(prod); len(f) > 0 {
		t.Errorf("the production build links %d SDK fake-server packages, e.g. %s", len(f), f[0])
	}
	if !prod[sdkPrefix+"sdk/azcore"] || !prod["github.com/plautopilot/autopilot/pkg/azure"] {
		t.Error("the production build does not link azcore and pkg/azure: the dependency list is not the handler's")
	}
}

// The check must be able to fail: the default build does link every harness.
func TestDefaultBuildKeepsTheHarnesses(t *testing.T) {
	dev := deps(t)
	for _, h := range harnesses {
		if !dev[h] {
			t.Errorf("the default build of the handler does not link %s: demo, bench, replay or --sandbox lost it", h)
		}
	}
	if len(fakes(dev)) == 0 {
		t.Error("the default build links no SDK fake server: the sandbox is gone from it")
	}
}

// buildProduction builds the handler as make build does (for this machine).
func buildProduction(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "handler")
	out, err := exec.Command("go", "build", "-tags", "production", "-trimpath", "-o", bin, handlersPkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags production: %v\n%s", err, out)
	}
	return bin
}

// repoFile is a file of the repository, from this package's folder.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// runBin runs bin in an empty folder with only env set (and PATH, HOME),
// and returns its exit status and output.
func runBin(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return code, o.String(), e.String()
}

func TestProductionBinaryAnswersDevFeaturesWithItsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler")
	}
	bin := buildProduction(t)
	scenario := repoFile(t, "testdata/scenarios/guide.yaml")
	pol := repoFile(t, "examples/policy.yaml")
	for _, c := range []struct {
		name string
		env  []string
		args []string
		// retry is the command the error says to run in a dev build.
		retry string
	}{
		{"demo", nil, []string{"demo"}, "go run ./handlers demo"},
		{"bench", nil, []string{"bench", "--json"}, "go run ./handlers bench --json"},
		{"replay", nil, []string{"replay", "--live", "--policy", pol}, "go run ./handlers replay --live"},
		{"local --sandbox", nil, []string{"local", "--sandbox", scenario, "--policy", pol}, "go run ./handlers local --sandbox " + scenario},
		{"verify --sandbox", nil, []string{"verify", "--fqdn", "x.fhir.azurehealthcareapis.com", "--sandbox=" + scenario, "--vnet", "spoke-app-vnet"}, "go run ./handlers verify"},
		{"policy explain --sandbox", nil, []string{"policy", "explain", "--sandbox", scenario, "--policy", pol, "/subscriptions/x"}, "go run ./handlers policy explain --sandbox"},
		{"serve with AUTOPILOT_SANDBOX", []string{"FUNCTIONS_CUSTOMHANDLER_PORT=0", "AUTOPILOT_SANDBOX=" + scenario, "AUTOPILOT_POLICY_FILE=" + pol}, nil, "make start"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runBin(t, bin, c.env, c.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2 (stderr: %s)", code, stderr)
			}
			for _, want := range []string{"built for production (make build", "dev builds", c.retry} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
		})
	}

	// What the production binary is for still works.
	t.Run("help marks the dev commands", func(t *testing.T) {
		code, stdout, _ := runBin(t, bin, nil, "--help")
		if code != 0 {
			t.Fatalf("--help: exit status %d", code)
		}
		for _, line := range strings.Split(stdout, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			dev := f[0] == "demo" || f[0] == "bench" || f[0] == "replay"
			if marked := strings.Contains(line, "not in this production build"); dev != marked {
				t.Errorf("help line %q: dev command %v, marked %v", line, dev, marked)
			}
		}
	})
	t.Run("policy check", func(t *testing.T) {
		if code, stdout, stderr := runBin(t, bin, nil, "policy", "check", pol); code != 0 {
			t.Errorf("policy check %s: exit status %d\n%s%s", pol, code, stdout, stderr)
		}
	})
	t.Run("serve answers the host's probe", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(bin)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port),
			"AUTOPILOT_POLICY_FILE=" + pol, "ServiceBus__fullyQualifiedNamespace=archtest.servicebus.windows.net"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
					t.Errorf("GET /: %d %q, want 200 ok", resp.StatusCode, body)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the production binary did not answer / in serve mode: %v\nstderr: %s", err, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// What azd deploys is the production build, and what make start runs under
// func start (on the sandbox) is a dev build: the Makefile says so.
func TestMakeStagesTheProductionBuildAndStartADevOne(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	staged := func(target string) (buildLine string, copied string) {
		out, err := exec.Command("make", "-s", "-n", "-C", filepath.Join("..", ".."), target).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		var bin string
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if strings.Contains(line, " build ") && strings.Contains(line, "./handlers") {
				buildLine = line
				if i := slices.Index(f, "-o"); i >= 0 && i+1 < len(f) {
					bin = f[i+1]
				}
			}
			if len(f) == 3 && f[0] == "cp" && strings.HasSuffix(f[2], "/handler") {
				copied = f[1]
			}
		}
		if buildLine == "" || copied == "" || copied != bin {
			t.Fatalf("make -n %s: want a go build of ./handlers whose -o is the binary copied to the stage as handler; got build %q, copied %q:\n%s", target, buildLine, copied, out)
		}
		return buildLine, copied
	}
	if line, _ := staged("stage"); !strings.Contains(line, "-tags production") {
		t.Errorf("make stage (azd's prepackage) deploys a build without -tags production: %s", line)
	}
	if line, _ := staged("start"); strings.Contains(line, "production") {
		t.Errorf("make start stages the production build, which refuses AUTOPILOT_SANDBOX: %s", line)
	}
}
