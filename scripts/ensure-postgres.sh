#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries (initdb, pg_ctl) are installed: the test suite starts a
# throwaway cluster with them (tests/fixtures/postgres.py). Installs Debian's package when run as
# root; does nothing, silently, when they are already there.
set -euo pipefail

have_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null
}

if have_initdb; then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-postgres: PostgreSQL server binaries (initdb) not found. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql" >&2
    exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
if ! have_initdb; then
    echo "ensure-postgres: installed postgresql, but initdb is still missing" >&2
    exit 1
fi
