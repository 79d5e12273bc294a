#!/usr/bin/env bash
# test.sh — the project's test command. Run it from anywhere:
#
#   ./test.sh
#
# 1. installs the pinned npm test peers (caddytest/package-lock.json) when
#    caddytest/node_modules is missing or older than the lock;
# 2. points Caddy's storage (XDG_CONFIG_HOME, XDG_DATA_HOME) at a temporary
#    directory;
# 3. checks formatting (gofmt) and runs go vet;
# 4. runs every Go test with the race detector.
#
# Needs Go (the version in go.mod) and Node ≥ 20 with npm. Exits non-zero on
# any failure. CI runs it through .ci/run with CI=true, where a test that
# cannot find its peers fails instead of skipping.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

section() {
	printf '\n==== %s ====\n' "$*"
}

fail() {
	printf '\nFAILED: %s\n' "$*" >&2
	exit 1
}

section "toolchain"
command -v go >/dev/null || fail "go not found on PATH"
go version
if command -v node >/dev/null; then echo "node $(node --version)"; fi
if command -v npm >/dev/null; then echo "npm $(npm --version)"; fi

section "npm test peers (caddytest/package-lock.json)"
# The stamp records which package.json + lock node_modules was installed from.
stamp=caddytest/node_modules/.caddy-mcp-installed
want=$(cat caddytest/package.json caddytest/package-lock.json | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
	echo "caddytest/node_modules is up to date"
else
	command -v npm >/dev/null || fail "npm not found: install Node and npm (e.g. apt-get install -y nodejs npm)"
	start=$SECONDS
	(cd caddytest && npm ci --no-audit --no-fund) || fail "npm ci in caddytest/"
	echo "$want" >"$stamp"
	echo "installed in $((SECONDS - start))s"
fi

section "environment"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/caddy-mcp-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
echo "XDG_CONFIG_HOME=$XDG_CONFIG_HOME"
echo "XDG_DATA_HOME=$XDG_DATA_HOME"
echo "CI=${CI:-}"

section "gofmt -l"
unformatted=$(find . -name '*.go' -not -path './caddytest/node_modules/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)
if [[ -n $unformatted ]]; then
	echo "$unformatted"
	fail "gofmt: the files above need gofmt -w"
fi
echo "all Go files are formatted"

section "go vet ./..."
start=$SECONDS
go vet ./... || fail "go vet"
echo "go vet passed in $((SECONDS - start))s"

section "go test -race -count=1 -timeout 15m ./..."
start=$SECONDS
# The output is kept so that, on a failure, the failing tests' own lines can
# be printed again at the end: Caddy's JSON logs bury them, and CI shows the
# tail of what was printed.
log="$tmp/go-test.log"
if ! go test -race -count=1 -timeout 15m ./... 2>&1 | tee "$log"; then
	section "failures (repeated from above, without Caddy's JSON log lines)"
	grep -vE '^\{"level"' "$log" | grep -E -A40 -- '--- FAIL|^panic:|^FAIL|^fatal error:|test timed out' | head -400 || true
	fail "go test (after $((SECONDS - start))s)"
fi
echo "go test passed in $((SECONDS - start))s"

section "all checks passed"
