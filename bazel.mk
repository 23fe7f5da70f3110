# Bazel 4.2 from Debian (bazel-bootstrap, bazel-bootstrap-source), offline, on the
# venv's Python; included by Makefile. `make bazel-test BAZEL_TARGETS=//:test_metrics`
BAZEL ?= bazel
BAZEL_TARGETS ?= //...
BAZEL_FLAGS = --python_path=$(abspath $(VENV))/bin/python \
	--test_env=PATH=$(abspath $(VENV))/bin:/usr/bin:/bin

.PHONY: bazel-test
bazel-test: install
	$(BAZEL) test $(BAZEL_FLAGS) $(BAZEL_TARGETS)
