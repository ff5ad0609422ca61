# jiedao — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
export JIEDAO_DATA_DIR ?= $(CURDIR)/.jiedao
GO ?= go

.PHONY: run test build vet bench db-up db-down fuzz soak mixed-load

build:
	$(GO) build -o bin/jiedao ./cmd/jiedao

# Uses $DATABASE_URL when set; otherwise installs PostGIS if missing and
# starts a private cluster under $JIEDAO_DATA_DIR.
# The private cluster is migrated as its owner, then served by the login
# jiedao_server, which holds only the role jiedao_app (README: Roles).
run: build
	@url="$$DATABASE_URL"; if [ -z "$$url" ]; then url=$$(scripts/devdb.sh up) || exit 1; \
	  ./bin/jiedao migrate --db "$$url" && url=$$(scripts/devdb.sh app "$$url") || exit 1; fi; \
	DATABASE_URL="$$url" exec ./bin/jiedao serve --demo-if-empty

# Installs what the tests need first (scripts/testdeps.sh: PostGIS, GDAL,
# Chromium, fonts, poppler-utils); a test needing a missing tool fails.
test:
	@scripts/testdeps.sh
	@url="$$DATABASE_URL"; if [ -z "$$url" ]; then url=$$(scripts/devdb.sh up) || exit 1; fi; \
	DATABASE_URL="$$url" JIEDAO_REQUIRE_DB=1 JIEDAO_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 30m ./...

# staticcheck is pinned; go run fetches it from the module proxy once.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1

vet:
	gofmt -l . | (! grep .) && $(GO) vet ./... && $(STATICCHECK) ./...

db-up:
	@scripts/devdb.sh up

db-down:
	@scripts/devdb.sh down

# Benchmarks (see BENCHMARKS.md). National scale: scripts/bench-national.sh.
bench:
	@url="$$DATABASE_URL"; if [ -z "$$url" ]; then url=$$(scripts/devdb.sh up) || exit 1; fi; \
	DATABASE_URL="$$url" JIEDAO_BENCH=1 $(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./boundaries/... ./web/

# Fuzzing (no database): every fuzz target for $(FUZZTIME) each, one after
# another (make fuzz FUZZTIME=10s for a quick pass). Plain `go test` runs
# their seed corpora. A new Fuzz function gets a line here.
FUZZTIME ?= 60s

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./boundaries/cql2/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFeature$$' -fuzztime $(FUZZTIME) ./boundaries/units/
	$(GO) test -run '^$$' -fuzz '^FuzzGPKGAdd$$' -fuzztime $(FUZZTIME) ./boundaries/layerfile/
	$(GO) test -run '^$$' -fuzz '^FuzzGPKGGeometry$$' -fuzztime $(FUZZTIME) ./boundaries/layerfile/
	$(GO) test -run '^$$' -fuzz '^FuzzGeoJSON$$' -fuzztime $(FUZZTIME) ./boundaries/layerfile/
	$(GO) test -run '^$$' -fuzz '^FuzzShapefile$$' -fuzztime $(FUZZTIME) ./boundaries/layerfile/
	$(GO) test -run '^$$' -fuzz '^FuzzDBF$$' -fuzztime $(FUZZTIME) ./boundaries/layerfile/
	$(GO) test -run '^$$' -fuzz '^FuzzZip$$' -fuzztime $(FUZZTIME) ./boundaries/layerfile/
	$(GO) test -run '^$$' -fuzz '^FuzzLookupCSV$$' -fuzztime $(FUZZTIME) ./web/
	$(GO) test -run '^$$' -fuzz '^FuzzTileCoords$$' -fuzztime $(FUZZTIME) ./web/tiles/

# The soak and fault suite (not part of make test): its own PostGIS and
# server, the beijing demo, load, an outage and hostile inputs; about 4
# minutes. SOAK_SECONDS sets the load phase (default 60).
soak:
	scripts/soak.sh

# The 200-connection mixed load (60% tiles, 25% lookups, 15% OGC pages) on
# the beijing demo; MIXED_SECONDS, MIXED_BASE … in scripts/mixed-load.sh.
mixed-load:
	@scripts/mixed-load.sh
