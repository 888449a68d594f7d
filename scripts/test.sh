#!/usr/bin/env bash
# Run every test of the workspace against real NATS and PostgreSQL.
#
#   scripts/test.sh [cargo test args...]   e.g. scripts/test.sh -p ores-runtime -- --nocapture
#
# Brings the services up first (scripts/ensure-services.sh), then runs `cargo test --workspace`
# (unit, integration and doc tests; not --all-targets, so harness-less benches are not run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/ensure-services.sh
exec cargo test --workspace "$@"
