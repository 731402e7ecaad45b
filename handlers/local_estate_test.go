package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/core"
)

// TestLocalEstateAfterStartupSweep is the first "must show":
// `handler local --sandbox SCENARIO --policy POLICY`, then GET /api/targets
// lists, once the start-up sweep has converged, each governed target's
// connections with their status and deciding rule, and each VNet that must
// reach it with its link state per zone. It also prints where the sandbox
// DNS and FHIR server listen.
func TestLocalEstateAfterStartupSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handler binary")
	}
	bin := handlerBinary(t)
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "local", "--sandbox", "../testdata/scenarios/guide.yaml", "--policy", "../examples/policy.yaml",
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--data", filepath.Join(t.TempDir(), "data"), "--workers", "2")
	cmd.Env = hostEnv()
	logs, out := &syncBuffer{}, &syncBuffer{}
	cmd.Stderr, cmd.Stdout = logs, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	var est autopilot.Estate
	converged := func() bool {
		resp, err := client.Get(base + "/api/targets")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		est = autopilot.Estate{}
		if json.NewDecoder(resp.Body).Decode(&est) != nil {
			return false
		}
		decided := 0
		for _, tg := range est.Targets {
			for _, c := range tg.Connections {
				if c.Status != string(core.StatusPending) && c.Rule != "" {
					decided++
				}
			}
		}
		return decided >= 2 // pe-app-fhir approved, pe-unknown rejected
	}
	waitFor(t, "the start-up sweep's decisions in /api/targets", exited, logs, converged)

	for _, want := range []string{"handler local: http://127.0.0.1:" + strconv.Itoa(port), "sandbox network: DNS", "spoke-app-vnet=127.0.0.1:", "FHIR private https://127.0.0.1:"} {
		if !strings.Contains(out.tail(1<<20), want) {
			t.Errorf("start-up output lacks %q:\n%s", want, out.tail(1<<20))
		}
	}
	rules := map[string]string{}
	for _, tg := range est.Targets {
		for _, c := range tg.Connections {
			rules[core.NameOf(c.Endpoint)] = c.Status + " " + c.Rule
		}
		// every VNet that must reach the target has a state in every zone shown
		for _, v := range tg.VNets {
			if len(v.Links) != len(tg.Zones) {
				t.Errorf("%s / %s: link states %+v, want one per zone of %v", tg.Name, v.Name, v.Links, tg.Zones)
			}
			for _, l := range v.Links {
				if l.State != autopilot.LinkLinked {
					t.Errorf("%s / %s in %s: %s after the sweep converged, want linked", tg.Name, v.Name, l.Zone, l.State)
				}
			}
		}
	}
	for ep, want := range map[string]string{"pe-app-fhir": "Approved allow-app-subscriptions", "pe-unknown": "Rejected reject-unknown-subscriptions"} {
		if rules[ep] != want {
			t.Errorf("connection of %s: %q, want %q (all: %v)", ep, rules[ep], want, rules)
		}
	}
	var vnets int
	for _, tg := range est.Targets {
		vnets += len(tg.VNets)
	}
	if vnets == 0 {
		t.Errorf("no VNet must reach any target: %+v", est.Targets)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(shutdownTimeout + 30*time.Second):
		t.Errorf("handler local did not stop after SIGTERM")
	}
}
