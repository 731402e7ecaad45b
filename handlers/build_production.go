//go:build production

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// productionBuild is true in the production build (make build): the dev
// harnesses are left out (build.go).
const productionBuild = true

func runDemo(args []string, stdout, stderr io.Writer) int {
	return devOnlyCommand("demo", args, stdout, stderr)
}

func runBench(args []string, stdout, stderr io.Writer) int {
	return devOnlyCommand("bench", args, stdout, stderr)
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	return devOnlyCommand("replay", args, stdout, stderr)
}

// loadSandbox: no sandbox in the production build.
func loadSandbox(string) (sandboxARM, error) {
	return nil, productionOnly("policy explain --sandbox ...")
}

// openSandbox: no sandbox in the production build (AUTOPILOT_SANDBOX,
// local --sandbox).
func openSandbox(o standaloneOptions, _ zerolog.Logger) (*sandboxBackend, error) {
	return nil, fmt.Errorf("%s: %w", o.scenarioLabel, productionOnly("local --sandbox "+o.scenario))
}

// sandboxVerifier: no sandbox in the production build (verify --sandbox).
func sandboxVerifier(_, _, _ string, _, stderr io.Writer) (*verify.Verifier, string, func(), int) {
	fmt.Fprintf(stderr, "handler verify: --sandbox: %v\n", productionOnly("verify --sandbox ..."))
	return nil, "", nil, 2
}

// devOnlyCommand answers a dev command in the production build.
func devOnlyCommand(name string, args []string, stdout, stderr io.Writer) int {
	retry := strings.TrimSpace(name + " " + strings.Join(args, " "))
	fmt.Fprintf(stderr, "handler %s: %v\n", name, productionOnly(retry))
	return 2
}
