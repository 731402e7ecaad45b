# Private Link Autopilot. Everything here needs only Go (1.26); tools are
# fetched through the Go module proxy at pinned versions.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
BIN := bin
STAGE := build/functionapp
# Bicep syntax check: the tree-sitter Bicep grammar run by web-tree-sitter,
# from the npm registry at the versions pinned in infra/bicepcheck/package-lock.json,
# installed into a git-ignored folder.
BICEP_TOOLS := .tools/bicep
PKGS := ./...

.PHONY: all build build-dev build-local stage stage-dev test test-short lint vet fmt-check staticcheck demo start bench fuzz clean bicep-tools bicep-check
# Fuzz budgets are execution counts, not durations: go1.26's fuzz coordinator
# can fail a duration-bounded run with a spurious "context deadline exceeded"
# when the deadline races a busy worker (golang/go#75804, fixed in go1.27);
# a count has no deadline to race. FUZZTIME=30s (any -fuzztime value) applies
# one budget to every target, e.g. for a longer local run.
FUZZTIME ?=
# package:target:budget, run by `make fuzz` (and by `make test`)
FUZZ_TARGETS := ./pkg/funchost:FuzzDecodeInvocation:100000x ./pkg/events:FuzzParseBatch:60000x \
	./pkg/events:FuzzClassify:60000x ./pkg/events:FuzzFastPathMatchesTheFullDecoder:100000x ./pkg/policy:FuzzParse:3000x ./pkg/core:FuzzResourceID:200000x

all: lint test

## build: the custom handler binary for the Functions host (linux/amd64), the
## production build: without the sandbox, demo, bench and replay (docs/deploy.md)
build:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags production -trimpath -ldflags="-s -w" -o $(BIN)/handler ./handlers

## build-dev: the same binary with every command and the sandbox (make start stages it)
build-dev:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/handler-dev ./handlers

## build-local: the handler binary for this machine, with every command (a dev build)
build-local:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/handler-local ./handlers

# stage_app: the function-app folder around the handler binary $(1)
define stage_app
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp host.json $(STAGE)/
	cp -r functions/* $(STAGE)/
	cp $(1) $(STAGE)/handler
	cp $${POLICY:-examples/policy.yaml} $(STAGE)/policy.yaml
	printf 'local.settings.json\n' > $(STAGE)/.funcignore
endef

## stage: a function-app folder that zip deployment (azd) uses as is, with the
## production build (POLICY=file picks the policy copied in as policy.yaml;
## default examples/policy.yaml)
stage: build
	$(call stage_app,$(BIN)/handler)
	@echo "staged function app in $(STAGE) (without local settings: they are for func start only)"

## stage-dev: the same folder with the dev build (the sandbox, AUTOPILOT_SANDBOX); make start uses it
stage-dev: build-dev
	$(call stage_app,$(BIN)/handler-dev)
	@echo "staged function app in $(STAGE) with the dev build (not for deployment: make stage)"

## test: lint, every test (unit, contract, scenario, protocol, fault run), short fuzz runs, the demo
test: lint bicep-check
	$(GO) test -count=1 -timeout 30m $(PKGS)
	$(MAKE) --no-print-directory fuzz
	$(GO) run ./handlers demo

## fuzz: each fuzz target for its budget (or FUZZTIME); crashers land in testdata/fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${rest#*:}; \
		[ -n "$(FUZZTIME)" ] && budget="$(FUZZTIME)"; \
		echo "fuzz $$pkg $$fn ($$budget)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget; \
	done

## test-short: the tests only
test-short:
	$(GO) test -count=1 $(PKGS)

## lint: gofmt, go vet and a pinned staticcheck
lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags production ./handlers

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags production ./handlers

## demo: the guide's story on the embedded sandbox, no Azure needed
demo:
	@echo "make demo: building the handler (the first build compiles the Azure SDK and CEL: minutes on a small machine; then cached)..." >&2
	$(GO) build -o $(BIN)/handler-demo ./handlers
	$(BIN)/handler-demo demo

## start: stage the function app (dev build) and run it under Azure Functions Core Tools
## (local.settings.json is copied in for func start only; `make stage` leaves it out.
## Without a Service Bus setting in local.settings.json: on the sandbox, with
## local.settings.sandbox.json.example and the guide's scenario; SCENARIO=file picks another)
start: stage-dev
	@if ! command -v func >/dev/null 2>&1; then \
		echo "Azure Functions Core Tools (func) is not installed: see https://learn.microsoft.com/azure/azure-functions/functions-run-local"; \
		echo "The staged app is in $(STAGE); without func, try: go run ./handlers local --sandbox testdata/scenarios/guide.yaml --policy examples/policy.yaml"; \
		exit 1; \
	fi
	@if [ -f local.settings.json ] && grep -Eq '"AUTOPILOT_SANDBOX"[[:space:]]*:[[:space:]]*"[^"]+"' local.settings.json; then \
		echo "start: local.settings.json sets AUTOPILOT_SANDBOX: running on the sandbox (scenario copied as sandbox.yaml)"; \
		cp local.settings.json $(STAGE)/; \
		cp $${SCENARIO:-testdata/scenarios/guide.yaml} $(STAGE)/sandbox.yaml; \
	elif [ -f local.settings.json ] && grep -Eq '"(ServiceBus|ServiceBus__fullyQualifiedNamespace|ServiceBusConnection)"[[:space:]]*:[[:space:]]*"[^"]+"' local.settings.json; then \
		echo "start: local.settings.json has a Service Bus setting: the Service Bus functions use it"; \
		cp local.settings.json $(STAGE)/; \
	else \
		echo "start: no Service Bus setting in local.settings.json: running on the sandbox"; \
		echo "       (local.settings.sandbox.json.example, AUTOPILOT_SANDBOX=$${SCENARIO:-testdata/scenarios/guide.yaml};"; \
		echo "        Reconcile and Verify are disabled, the handler's own workers run their jobs; docs/functions-host.md)"; \
		cp local.settings.sandbox.json.example $(STAGE)/local.settings.json; \
		cp $${SCENARIO:-testdata/scenarios/guide.yaml} $(STAGE)/sandbox.yaml; \
	fi
	cd $(STAGE) && func start

## bench: the scale table (1,000 approvals + 500 links under ARM's token buckets)
bench:
	@echo "make bench: building the handler (minutes the first time), then the full-size run (minutes; it reports progress)..." >&2
	$(GO) build -o $(BIN)/handler-demo ./handlers
	$(BIN)/handler-demo bench

## bicep-tools: install the Bicep parser (npm, pinned by infra/bicepcheck/package-lock.json)
bicep-tools: $(BICEP_TOOLS)/.installed

$(BICEP_TOOLS)/.installed: infra/bicepcheck/package.json infra/bicepcheck/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "bicep-tools: npm (Node.js) is needed: apt-get install nodejs npm"; exit 1; }
	rm -rf $(BICEP_TOOLS) && mkdir -p $(BICEP_TOOLS)
	cp infra/bicepcheck/package.json infra/bicepcheck/package-lock.json $(BICEP_TOOLS)/
	cd $(BICEP_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## bicep-check: parse every .bicep file (a syntax check; see docs/deploy.md for what it cannot check)
bicep-check: bicep-tools
	NODE_PATH=$(BICEP_TOOLS)/node_modules node infra/bicepcheck/parse.cjs $$(git ls-files --cached --others --exclude-standard '*.bicep' 2>/dev/null || find . -name '*.bicep' -not -path './.tools/*')

clean:
	rm -rf $(BIN) build
