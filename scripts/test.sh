#!/usr/bin/env bash
# The whole test suite: unit tests, then every integration test once per worker model.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
for model in sync; do  # the default (event) ran above
    echo "== integration tests with --worker-model $model"
    PREFORKD_TEST_MODEL=$model cargo test --test '*'
done
