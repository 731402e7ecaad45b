package main

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// Two builds of the handler share this package. The default build (go run
// ./handlers, go build, make build-local, make demo, make start, the tests)
// has every command. The production build (make build: -tags production,
// the binary make stage puts in the function app) leaves out the dev
// harnesses (internal/sandbox, internal/sandboxnet, internal/demo,
// internal/loadtest and the SDK's fake servers): there, demo, bench and
// replay, and every --sandbox / AUTOPILOT_SANDBOX, answer productionOnly's
// error with exit status 2. build_dev.go and build_production.go hold the
// two sides; internal/archtest checks that the production build links no
// harness.

// devCommands are the commands only dev builds have.
var devCommands = map[string]bool{"demo": true, "bench": true, "replay": true}

// productionOnly is the error of a dev feature asked of the production
// build; retry is the command line that works in a dev build ("demo",
// "local --sandbox ...").
func productionOnly(retry string) error {
	return productionOnlyHint("make build-local, or go run ./handlers " + retry)
}

// productionOnlyHint is productionOnly with where to go instead spelled out.
func productionOnlyHint(hint string) error {
	return fmt.Errorf("this binary was built for production (make build, -tags production) without the sandbox, demo, bench and replay; they are in dev builds: %s", hint)
}

// sandboxARM is what a loaded sandbox scenario gives the ARM client: a
// credential and client options whose transport is the sandbox.
type sandboxARM interface {
	Credential() azcore.TokenCredential
	ClientOptions() *arm.ClientOptions
}

// sandboxBackend is the sandbox under `handler local --sandbox` and
// AUTOPILOT_SANDBOX: its ARM, its loopback DNS and FHIR servers wired into
// verification (tune), and what to say about them.
type sandboxBackend struct {
	arm  core.ARM
	tune func(*verify.Verifier, *verify.JobRunner)
	// line says where the sandbox DNS and FHIR listen, for the start-up
	// output.
	line          string
	subscriptions []string
	close         func()
}
