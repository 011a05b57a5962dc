#!/usr/bin/env bash
# Installs what the build needs beyond the Rust toolchain: libpq (the PostgreSQL client library
# that diesel links). SQLite needs nothing: it is compiled in (libsqlite3-sys "bundled").
set -euo pipefail

have_libpq() {
    ldconfig -p 2>/dev/null | grep -q 'libpq\.so '
}

if ! have_libpq; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "ensure-deps: installing libpq-dev (PostgreSQL client library) with apt-get"
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libpq-dev >/dev/null
    else
        echo "ensure-deps: libpq is missing; install your system's libpq development package" >&2
        exit 1
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "ensure-deps: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
    exit 1
fi
