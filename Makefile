# Private Link Autopilot. Everything here needs only Go (1.26); tools are
# fetched through the Go module proxy at pinned versions.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
BIN := bin
STAGE := build/functionapp
PKGS := ./...

.PHONY: all build build-local stage test test-short lint vet fmt-check staticcheck demo start bench fuzz clean

all: lint test

## build: the custom handler binary for the Functions host (linux/amd64)
build:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/handler ./handlers

## build-local: the handler binary for this machine
build-local:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/handler-local ./handlers

## stage: a function-app folder that func start and zip deployment use as is
stage: build
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp host.json $(STAGE)/
	cp -r functions/* $(STAGE)/
	cp $(BIN)/handler $(STAGE)/handler
	[ -f local.settings.json ] && cp local.settings.json $(STAGE)/ || true
	@echo "staged function app in $(STAGE)"

## test: every test (unit, contract, scenario, protocol), vet, and the demo
test: lint
	$(GO) test -count=1 -timeout 20m $(PKGS)

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
	$(GO) run ./handlers demo

clean:
	rm -rf $(BIN) build
