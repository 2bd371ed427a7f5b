# Alpes Partners functions: developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

# Where the dev services listen (scripts/*.sh read the same variables).
PG_PORT ?= 5432
PULSAR_PORT ?= 6650
PULSAR_HTTP_PORT ?= 8080
PUBSUB_PORT ?= 8085
export PG_PORT PULSAR_PORT PULSAR_HTTP_PORT PUBSUB_PORT

# What the tests connect to.
export DATABASE_URL ?= postgres://alpes:alpes@127.0.0.1:$(PG_PORT)/alpes
export PULSAR_URL ?= pulsar://127.0.0.1:$(PULSAR_PORT)
export PULSAR_ADMIN_URL ?= http://127.0.0.1:$(PULSAR_HTTP_PORT)
export PUBSUB_EMULATOR_HOST ?= 127.0.0.1:$(PUBSUB_PORT)
export PUBSUB_PROJECT ?= alpes-local

CARGO ?= cargo
# A bound on the whole test run, so a hung test fails CI instead of eating its time.
TEST_TIMEOUT ?= 2400

.PHONY: test-fast test-services help run run-one jaeger trace migrate measure bench services services-down services-status tools build test fmt fmt-check lint clean-state

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

tools: ## Install missing build tools (protoc) on Debian
	@scripts/setup-tools.sh

services: ## Start PostgreSQL, Apache Pulsar and the Pub/Sub emulator (idempotent)
	@scripts/services.sh up

services-down: ## Stop every dev service
	@scripts/services.sh down

services-status: ## Tell which dev services answer
	@scripts/services.sh status

FUNCTION ?= register-influencer
PORT ?= 3000
run: local ## The whole system: services, every function, the bridge, the gateway on :8000 [TRACING=1: and Jaeger]

run-one: tools services migrate ## Start the services and run one function: make run-one FUNCTION=create-campaign PORT=3001
	PORT=$(PORT) PUSH_AUTH=$${PUSH_AUTH:-static} PUSH_TOKEN=$${PUSH_TOKEN:-local-push-token} \
	  DATABASE_URL=$(if $(filter generate-report compensate-report,$(FUNCTION)),$(REPORTES_DATABASE_URL),$(DATABASE_URL)) \
	  $(CARGO) run -p $(FUNCTION)

REPORTES_DATABASE_URL ?= postgres://alpes:alpes@127.0.0.1:$(PG_PORT)/reportes
migrate: ## Apply the migrations to the alpes and reportes databases
	DATABASE_URL=$(DATABASE_URL) $(CARGO) run -q -p alpes-shared --bin migrate
	DATABASE_URL=$(REPORTES_DATABASE_URL) $(CARGO) run -q -p alpes-shared --bin migrate

TRACING ?= 0
.PHONY: local check-containers
local: tools ## The whole topology as native processes, gateway on :8000 (Ctrl-C stops it) [TRACING=1: spans to Jaeger, make trace]
	@REPORTES_DATABASE_URL=$(REPORTES_DATABASE_URL) TRACING=$(TRACING) scripts/local.sh

jaeger: ## Build (once, with Go) and start Jaeger for the traces: query API on :16686, OTLP on :4318
	scripts/jaeger.sh up

trace: ## The last saga's waterfall from Jaeger (make local TRACING=1): make trace [ID=<trace id>] [SERVICE=<first service>]
	@SERVICE=$(or $(SERVICE),register-influencer) scripts/trace.py $(ID)

.PHONY: dlq dlq-replay
DLQ_FILTERS = $(if $(ROUTE),--route '$(ROUTE)') $(if $(EVENT_ID),--event-id '$(EVENT_ID)')
dlq: ## The bridge's dead letters per route (PULSAR_URL, PULSAR_ADMIN_URL, PULSAR_NAMESPACE): make dlq [ROUTE=<topic>/<subscription>]
	@$(CARGO) run -q -p pulsar-bridge -- dlq list $(DLQ_FILTERS)

dlq-replay: ## Send dead letters back to their route only: make dlq-replay [ROUTE=<topic>/<subscription>] [EVENT_ID=<id>] [DROP=1 [YES=1]]
	@$(CARGO) run -q -p pulsar-bridge -- dlq $(if $(filter 1,$(DROP)),drop $(if $(filter 1,$(YES)),--yes),replay) $(DLQ_FILTERS)

check-containers: tools ## Validate docker-compose.yml, the Dockerfile and its build step (no Docker needed)
	@scripts/check-containers.sh

build: tools ## Build every function binary (debug)
	$(CARGO) build --workspace --bins

test: tools check-infra check-containers test-services ## Everything CI runs: deploy checks, all tests, then the solo tier
	timeout $(TEST_TIMEOUT) $(CARGO) test --workspace --all-targets --no-fail-fast
	@echo "Solo tier: outages of the shared broker and database (they stop them, so they run alone):"
	timeout 600 $(CARGO) test --workspace --test delivery -- --ignored broker_restart
	timeout 600 $(CARGO) test --workspace --test dead_letters -- --ignored
	timeout 900 $(CARGO) test --workspace --test outages -- --ignored --test-threads=1

test-fast: tools test-services ## The fast tier: skips the slow_ tests and the solo tier (outages)
	timeout $(TEST_TIMEOUT) $(CARGO) test --workspace --all-targets --no-fail-fast -- --skip slow_

# The services start (first run: Maven resolves Pulsar) and Jaeger builds (first run: Go,
# for the trace test) while the tests compile.
test-services:
	@mkdir -p .local/logs
	@scripts/services.sh up >.local/logs/services-up.log 2>&1 & services=$$!; \
	scripts/jaeger.sh build >.local/logs/jaeger-build.log 2>&1 & jaeger=$$!; \
	$(CARGO) test --workspace --all-targets --no-run; built=$$?; \
	wait $$services; up=$$?; cat .local/logs/services-up.log; \
	wait $$jaeger; traced=$$?; cat .local/logs/jaeger-build.log; \
	if [ $$up -ne 0 ]; then echo "error: the services did not start"; exit $$up; fi; \
	if [ $$traced -ne 0 ]; then echo "error: Jaeger did not build"; exit $$traced; fi; \
	if [ $$built -ne 0 ]; then exit $$built; fi

measure: tools services migrate ## Release binaries: exec to /health, /ready and first write, RSS, size (MEASURE_BASELINE=<release dir> side by side)
	$(CARGO) build --release --bins
	scripts/measure_binaries.py

# Benchmarks (docs/BENCHMARKS.md, docs/benchmarks.json): a release build in its own target
# directory (plus an unstripped register-influencer for the profile; BENCH_PROFILE=0 skips
# both), then scripts/bench.py, under 10 minutes after the build.
BENCH_TARGET ?= target/bench
BENCH_PROFILE ?= 1
export BENCH_PROFILE
bench: tools services ## Benchmark suite: cold start, HTTP, pgbench, bridge, saga, scaling, profile
	CARGO_TARGET_DIR=$(BENCH_TARGET) nice -n 10 $(CARGO) build --release --bins
	CARGO_TARGET_DIR=$(BENCH_TARGET) nice -n 10 $(CARGO) build --release -p pulsar-bridge --example throughput --example saga
	@if [ "$(BENCH_PROFILE)" != 0 ]; then \
	  CARGO_TARGET_DIR=target/bench-profile CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
	    nice -n 10 $(CARGO) build --release -p register-influencer; fi
	CARGO_TARGET_DIR=$(BENCH_TARGET) BENCH_PROFILE_BINARY=$(if $(filter 0,$(BENCH_PROFILE)),,target/bench-profile/release/register-influencer) \
	  scripts/bench.py

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

lint: tools fmt-check ## cargo fmt --check, clippy -D warnings, shellcheck, one TLS backend
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	shellcheck -x -P SCRIPTDIR scripts/*.sh .ci/run pulsar-vm/startup.sh
	@# One rustls crypto backend (aws-lc-rs) for the whole graph: two make TLS panic.
	@if $(CARGO) tree --workspace -e normal,build,dev -i ring 2>/dev/null | grep -q .; then \
	  echo "error: the ring crate entered the dependency graph; use the aws-lc-rs backend"; exit 1; fi

clean-state: services-down ## Stop the services and delete their data and logs (.local/)
	rm -rf .local

# Deploy to Google Cloud (README "Deploy to GCP"): scripts/deploy.sh, cloudbuild.yaml, terraform/.
PROJECT ?=
REGION ?= europe-west1
NAME_PREFIX ?= alpes
DEPLOY_ENV = PROJECT=$(PROJECT) REGION=$(REGION) NAME_PREFIX=$(NAME_PREFIX)
.PHONY: deploy plan destroy check-infra
deploy: ## Build and push the images (Cloud Build), migrate, terraform apply: make deploy PROJECT=<id> [REGION=...]
	@$(DEPLOY_ENV) scripts/deploy.sh deploy

plan: ## terraform plan of a deployment: make plan PROJECT=<id> [REGION=...]
	@$(DEPLOY_ENV) scripts/deploy.sh plan

destroy: ## Delete a deployment, data included (asks first): make destroy PROJECT=<id> [REGION=...]
	@$(DEPLOY_ENV) scripts/deploy.sh destroy

check-infra: ## terraform fmt, validate and test (provider mirror ../shared/terraform-providers), deployer roles, checkov, shellcheck, cloudbuild.yaml
	@scripts/check-infra.sh
