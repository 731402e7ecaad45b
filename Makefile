# Private Link Autopilot. Everything here needs only Go (1.26); tools are
# fetched through the Go module proxy at pinned versions.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
BIN := bin
STAGE := build/functionapp
PKGS := ./...

.PHONY: all build build-local stage test test-short lint vet fmt-check staticcheck demo start bench fuzz clean
# Fuzz budgets are execution counts, not durations: go1.26's fuzz coordinator
# can fail a duration-bounded run with a spurious "context deadline exceeded"
# when the deadline races a busy worker (golang/go#75804, fixed in go1.27);
# a count has no deadline to race. FUZZTIME=30s (any -fuzztime value) applies
# one budget to every target, e.g. for a longer local run.
FUZZTIME ?=
# package:target:budget, run by `make fuzz` (and by `make test`)
FUZZ_TARGETS := ./pkg/funchost:FuzzDecodeInvocation:100000x ./pkg/events:FuzzParseBatch:60000x \
	./pkg/events:FuzzClassify:60000x ./pkg/policy:FuzzParse:3000x ./pkg/core:FuzzResourceID:200000x

all: lint test

## build: the custom handler binary for the Functions host (linux/amd64)
build:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/handler ./handlers

## build-local: the handler binary for this machine
build-local:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/handler-local ./handlers

## stage: a function-app folder that func start and zip deployment use as is
## (POLICY=file picks the policy copied in as policy.yaml; default examples/policy.yaml)
stage: build
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp host.json $(STAGE)/
	cp -r functions/* $(STAGE)/
	cp $(BIN)/handler $(STAGE)/handler
	cp $${POLICY:-examples/policy.yaml} $(STAGE)/policy.yaml
	[ -f local.settings.json ] && cp local.settings.json $(STAGE)/ || true
	@echo "staged function app in $(STAGE)"

## test: lint, every test (unit, contract, scenario, protocol, fault run), short fuzz runs, the demo
test: lint
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

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

## demo: the guide's story on the embedded sandbox, no Azure needed
demo:
	@echo "make demo: building the handler (the first build compiles the Azure SDK and CEL: minutes on a small machine; then cached)..." >&2
	$(GO) build -o $(BIN)/handler-demo ./handlers
	$(BIN)/handler-demo demo

## start: stage the function app and run it under Azure Functions Core Tools
start: stage
	@if command -v func >/dev/null 2>&1; then \
		cd $(STAGE) && func start; \
	else \
		echo "Azure Functions Core Tools (func) is not installed: see https://learn.microsoft.com/azure/azure-functions/functions-run-local"; \
		echo "The staged app is in $(STAGE); without func, try: go run ./handlers local --sandbox testdata/scenarios/guide.yaml --policy examples/policy.yaml"; \
		exit 1; \
	fi

## bench: the scale table (1,000 approvals + 500 links under ARM's token buckets)
bench:
	@echo "make bench: building the handler (minutes the first time), then the full-size run (minutes; it reports progress)..." >&2
	$(GO) build -o $(BIN)/handler-demo ./handlers
	$(BIN)/handler-demo bench

clean:
	rm -rf $(BIN) build
