#!/usr/bin/env bash
# Installs what the build and the tests need beyond the Rust toolchain: libpq (the PostgreSQL
# client library that diesel links); for the browser tests Debian's chromium and chromium-driver
# and axe-core from npm (tests/browser/package-lock.json). SQLite needs nothing: it is compiled
# in (libsqlite3-sys "bundled").
set -euo pipefail

have_libpq() {
    ldconfig -p 2>/dev/null | grep -q 'libpq\.so '
}

packages=()
have_libpq || packages+=(libpq-dev)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)

if [ ${#packages[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "ensure-deps: installing ${packages[*]} with apt-get"
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
    else
        echo "ensure-deps: missing ${packages[*]}; install them with your system's packages" >&2
        exit 1
    fi
fi

# axe-core for the accessibility scans of the browser tests, pinned by the lock file.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$here/tests/browser/node_modules/axe-core/axe.min.js" ]; then
    if command -v npm >/dev/null 2>&1; then
        echo "ensure-deps: installing axe-core (npm ci in tests/browser)"
        (cd "$here/tests/browser" && npm ci --no-audit --no-fund --silent)
    else
        echo "ensure-deps: npm is missing; install Node.js and npm (the browser tests need axe-core)" >&2
        exit 1
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "ensure-deps: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
    exit 1
fi
