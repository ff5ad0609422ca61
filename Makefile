# jiedao — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
export JIEDAO_DATA_DIR ?= $(CURDIR)/.jiedao
GO ?= go

.PHONY: run test build vet bench db-up db-down

build:
	$(GO) build -o bin/jiedao ./cmd/jiedao

# Uses $DATABASE_URL when set; otherwise installs PostGIS if missing and
# starts a private cluster under $JIEDAO_DATA_DIR.
run: build
	@url="$$DATABASE_URL"; if [ -z "$$url" ]; then url=$$(scripts/devdb.sh up) || exit 1; fi; \
	DATABASE_URL="$$url" exec ./bin/jiedao serve --demo-if-empty

test:
	@url="$$DATABASE_URL"; if [ -z "$$url" ]; then url=$$(scripts/devdb.sh up) || exit 1; fi; \
	DATABASE_URL="$$url" JIEDAO_REQUIRE_DB=1 $(GO) test -count=1 -timeout 30m ./...

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
