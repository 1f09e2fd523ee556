# onestack — build, run and test targets.
#
# make run    install missing host packages, build, run all-in-one in the foreground
# make test   go vet, then every test with the race detector (FUZZ=1, or CI=true, adds a fuzz smoke)
# make bench  benchmarks

SHELL := /bin/bash

DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:8000
GO ?= go
FUZZTIME ?= 10s
# CI (CI=true) adds a short fuzz run of every decoder to `make test`: a
# count of inputs, not a duration (a duration can end while the fuzzer
# minimises a new input, which Go reports as "context deadline exceeded").
ifeq ($(CI),true)
FUZZ ?= 1
FUZZTIME = 5000x
endif

# Debian packages the binary and its tests need on the host.
HOST_PACKAGES ?= python3-openstackclient python3-osc-placement python3-octaviaclient python3-swiftclient haproxy qemu-system-x86 qemu-system-common qemu-utils genisoimage dosfstools mtools syslinux syslinux-common cpio iproute2 nftables iputils-ping
# What the tests need beyond HOST_PACKAGES (.ci/run installs both lists).
TEST_PACKAGES ?= postgresql

.PHONY: all run build test vet fuzz bench host-packages print-packages clean

all: build

build:
	$(GO) build -o bin/onestack ./cmd/onestack

# Installs only what dpkg says is missing, so a second `make run` does not touch apt.
host-packages:
	@missing=""; \
	for p in $(HOST_PACKAGES); do \
		dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing host packages:$$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

# Prints every Debian package the binary and its tests need (.ci/run installs them).
print-packages:
	@echo $(HOST_PACKAGES) $(TEST_PACKAGES)

run: host-packages build
	exec ./bin/onestack up --data-dir $(DATA_DIR) --listen $(LISTEN)

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -count=1 -timeout 60m ./...
ifeq ($(FUZZ),1)
	$(MAKE) fuzz
endif

# Runs every Fuzz function for FUZZTIME. go test -fuzz takes one target per run.
fuzz:
	@set -e; \
	for f in $$(grep -l 'func Fuzz' -r --include='*_test.go' . | sort); do \
		dir=$$(dirname "$$f"); \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' "$$f" | cut -d' ' -f2); do \
			echo "fuzz $$dir $$fn"; \
			$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) "$$dir"; \
		done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin
