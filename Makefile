# Parlor — `make run` starts it, `make test` checks everything. Both set themselves up.

SHELL := /bin/bash
# Builds live outside the checkout so a fresh clone reuses them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/parlor/target
CARGO ?= cargo

.PHONY: help run server build client app app-build bundle test lint fmt deps test-deps clean bench ui ui-test

help:
	@echo "make run     build and start Parlor: the desktop app where there is a display, else the server"
	@echo "make app     build and start the desktop app (release build)"
	@echo "make bundle  desktop app packages (.deb; BUNDLES=deb,appimage for an AppImage too)"
	@echo "make server  build and start the headless server (release build)"
	@echo "make test    formatting, lints and every test, on SQLite and PostgreSQL"
	@echo "make client  build parlor-client, the headless client (release build)"
	@echo "make bench   codec and SFU benchmarks (release builds, loopback)"
	@echo "make ui      build the web UI (ui/dist, embedded by release builds of the server)"
	@echo "make fmt     format the code"

deps:
	@scripts/ensure-deps.sh

test-deps:
	@scripts/ensure-deps.sh test
	@scripts/packaging-tools.sh >/dev/null

# npm ci only when the lock file changed since the last install.
ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	@touch $@

ui: deps ui/node_modules/.package-lock.json
	cd ui && npm run build

ui-test: ui
	cd ui && npm test

build: ui
	$(CARGO) build --release -p parlor-server

client: deps
	$(CARGO) build --release -p parlor-media --bin parlor-client
	@echo "built $(CARGO_TARGET_DIR)/release/parlor-client"

# The app needs a display; without one (a server, a container) Parlor runs headless.
run:
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "A display is available: starting the Parlor desktop app (make server for the headless server)"; \
	  $(MAKE) --no-print-directory app; \
	else \
	  echo "No display (DISPLAY and WAYLAND_DISPLAY are unset): starting the headless server"; \
	  $(MAKE) --no-print-directory server; \
	fi

app-build: ui
	$(CARGO) build --release -p parlor-app

app: app-build
	$(CARGO_TARGET_DIR)/release/parlor-app $(ARGS)

server: build
	$(CARGO_TARGET_DIR)/release/parlor-server $(ARGS)

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

test: test-deps ui-test lint
	$(CARGO) test --workspace --locked

bench: test-deps
	$(CARGO) build --release -p parlor-server -p parlor-media --bins
	$(CARGO) bench -p parlor-media --bench codec
	$(CARGO) bench -p parlor-media --bench sfu
	$(MAKE) --no-print-directory ui
	$(CARGO) bench -p parlor-app --bench app

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

# Desktop bundles with the Tauri CLI (from npm): a .deb always; BUNDLES=deb,appimage adds an
# AppImage where its tools can be fetched. Output: $(CARGO_TARGET_DIR)/release/bundle/.
BUNDLES ?= deb
bundle: ui
	cd src-tauri && npx --yes @tauri-apps/cli@2 build --bundles $(BUNDLES) --config ../packaging/desktop/tauri.bundle.json
