# MIG - Medical Interoperability Gateway. Two commands do all set-up on a
# fresh machine with Go 1.26: `make run` and `make test`.

GO      ?= go
BIN     := bin
ADDR    ?= 127.0.0.1:8080
GPSIM   ?= 127.0.0.1:8091
VIEWER  ?= 127.0.0.1:8082
OPS     ?= 127.0.0.1:9090
DATA    ?= var/dev
FUZZTIME ?= 30s

.PHONY: all build run test test-short bench bench-all soak fuzz lint clean viewer-deps

all: build

build:
	$(GO) build -o $(BIN)/migd ./cmd/migd
	$(GO) build -o $(BIN)/migctl ./cmd/migctl
	$(GO) build -o $(BIN)/gpsim ./cmd/gpsim
	$(GO) build -o $(BIN)/srv ./cmd/srv

# The Shared Record Viewer's npm packages (NHS.UK frontend, and for the
# browser tests playwright-core and axe-core), installed into
# viewer/node_modules from the lock file, never committed. The viewer serves
# NHS.UK frontend from there at run time, so go build needs none of it.
viewer-deps: viewer/node_modules/.installed

viewer/node_modules/.installed: viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund
	@touch $@

# Starts the GP-system simulator (EMIS practice A99902 over HTTP), the
# gateway in development mode (embedded bbolt under $(DATA), synthetic
# practices from testdata/, a loopback development identity provider) and
# the Shared Record Viewer beside it (its EHR simulator at /ehr). Ctrl-C
# stops all three. Stop gpsim alone (its pid is printed) to see a practice
# outage answered for that practice's patients only.
run: build viewer-deps
	@mkdir -p $(DATA)
	@$(BIN)/gpsim -addr $(GPSIM) -dir testdata/A99902 -notifications $(DATA)/gpsim-notifications.ndjson >$(DATA)/gpsim.log 2>&1 & gpsim=$$!; \
	  echo "gpsim (EMIS practice A99902 over HTTP) on http://$(GPSIM), pid $$gpsim"; \
	  $(BIN)/migd -dev -addr $(ADDR) -ops-addr $(OPS) -data $(DATA) -dev-gpsim http://$(GPSIM) & migd=$$!; \
	  trap 'kill $$gpsim $$migd $$srv 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/srv -dev -addr $(VIEWER) -gateway http://$(ADDR) -data $(DATA) 2>>$(DATA)/srv.log & srv=$$!; \
	  wait $$migd

# Every test, with the race detector; fuzz targets run their seed corpora.
# PostgreSQL store tests run against $MIG_TEST_POSTGRES_URL (an admin URL;
# each test makes its own database) and skip, with a SKIP line, without it.
# The viewer's browser tests (cmd/srv TestBrowser) run too: they need
# /usr/bin/chromium (Debian's chromium package) and fail without it.
test: viewer-deps
	$(GO) vet ./...
	@[ -n "$$MIG_TEST_POSTGRES_URL" ] || echo "SKIP: PostgreSQL store tests (no MIG_TEST_POSTGRES_URL; bash .ci/run starts a throwaway cluster and sets it)"
	MIG_BROWSER_TESTS=1 $(GO) test -race -count=1 ./...

test-short:
	$(GO) test -count=1 ./...

# Issue 14's side-by-side measurement, from one run (not part of make
# test; about 8 minutes on 2 cores): the stage benchmarks, then three
# pipelines end to end, each a migd -dev subprocess of the benchmark build
# (-tags migbench: a pre-rendered route and the usual toolchain, refused
# outside -dev), driven by vegeta at 1, 8 and 64 clients. Rewrites the
# marked block of BENCHMARKS.md. BENCH_ARGS passes flags to benchload,
# e.g. BENCH_ARGS='-duration 10s' or BENCH_ARGS='-only whole -stages=false'.
BENCH_ARGS ?=
bench: $(BIN)/vegeta
	$(GO) test -count=1 -tags migbench -run '^TestBench' ./cmd/internal/app/
	$(GO) build -tags migbench -o $(BIN)/migd-bench ./cmd/migd
	$(GO) build -o $(BIN)/benchload ./cmd/internal/benchload
	$(BIN)/benchload -write BENCHMARKS.md $(BENCH_ARGS)

# Ten minutes of load on one gateway (ours, as shipped), resident memory
# sampled every 10 s; writes the growth to BENCHMARKS.md. Not part of make
# test. SOAK sets the length.
SOAK ?= 10m
soak: $(BIN)/vegeta
	$(GO) build -tags migbench -o $(BIN)/migd-bench ./cmd/migd
	$(GO) build -o $(BIN)/benchload ./cmd/internal/benchload
	$(BIN)/benchload -soak $(SOAK) -write BENCHMARKS.md $(BENCH_ARGS)

# vegeta, the load generator, at a fixed version, into bin/ (go.mod is not
# touched: go install with a version builds outside this module).
$(BIN)/vegeta:
	GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/tsenart/vegeta/v12@v12.13.0

# Every benchmark in the tree, each package's own (slow; not make bench).
bench-all:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target in the tree (each func Fuzz* in a _test.go file)
# for $(FUZZTIME).
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
	  pkg=$$(dirname "$$f"); for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
	    echo "== $$pkg $$fn"; $(GO) test "$$pkg" -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) || exit 1; done; done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) var viewer/test-results
