#!/usr/bin/env bash
# Bazel smoke check: `bazel query //...` and one fast `bazel test` target.
# Installs Debian's offline Bazel 4.2 where apt-get can; without it, one note and
# exit 0 (tests/test_build_file.py checks BUILD's coverage in the pytest suite).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TARGET=${BAZEL_SMOKE_TARGET:-//:test_metrics}
# bazel-bootstrap-source holds the stand-in rules_cc/rules_java that .bazelrc uses.
if ! command -v bazel >/dev/null || [ ! -d /usr/src/bazel-bootstrap/mock_repos ]; then
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "bazel: not installed and apt-get unavailable (not root); skipping the Bazel check"
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq bazel-bootstrap bazel-bootstrap-source; } >/tmp/tfprune-bazel-apt.log 2>&1; then
    echo "bazel: apt-get install failed (see /tmp/tfprune-bazel-apt.log); skipping the Bazel check"
    exit 0
  fi
fi
make --no-print-directory install VENV="$VENV"
trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT
PY=$(cd "$VENV" && pwd)/bin/python
bazel query //...
bazel test --python_path="$PY" --test_env=PATH="$(dirname "$PY"):/usr/bin:/bin" "$TARGET"
