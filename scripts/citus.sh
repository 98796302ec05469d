#!/usr/bin/env bash
# Build, install and run a local Citus cluster for Tidings (docs/scale-out.md, "Citus").
#
#   scripts/citus.sh build    unpack + patch + build + install Citus (idempotent, cached in .cache/citus/)
#   scripts/citus.sh built    exit 0 if the installed citus.so is the expected version
#   scripts/citus.sh up       create/start coordinator (5440) + workers (5441, 5442), database "test"
#   scripts/citus.sh down     stop the three clusters (data kept; "destroy" drops them)
#   scripts/citus.sh status   show clusters and the Citus node list
#
# The system cluster ("main", 5432) is never touched: these are NEW clusters made with
# pg_createcluster. Ports and names can be overridden with CITUS_PORT_COORD/CITUS_PORT_W1/CITUS_PORT_W2.
set -euo pipefail

CITUS_VERSION="${CITUS_VERSION:-13.2.2}"
PG_MAJOR="${PG_MAJOR:-15}"
VENDOR="${CITUS_VENDOR:-/work/shared/vendor}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CITUS_CACHE:-$ROOT/.cache/citus}"
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_CONFIG="$PG_BIN/pg_config"
COORD_PORT="${CITUS_PORT_COORD:-5440}"
W1_PORT="${CITUS_PORT_W1:-5441}"
W2_PORT="${CITUS_PORT_W2:-5442}"
CLUSTERS=("citus_coord:$COORD_PORT" "citus_w1:$W1_PORT" "citus_w2:$W2_PORT")
DB="${CITUS_DB:-test}"

log() { printf '[citus.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*"; exit 1; }

pkglibdir() { "$PG_CONFIG" --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/$PG_MAJOR/lib"; }
sharedir() { "$PG_CONFIG" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$PG_MAJOR"; }

is_built() {
    local so control
    so="$(pkglibdir)/citus.so"
    control="$(sharedir)/extension/citus.control"
    [[ -f "$so" && -f "$control" ]] || return 1
    # default_version in the control file is the extension's SQL version (13.2-1 for 13.2.x).
    grep -q "default_version = '${CITUS_VERSION%.*}-" "$control" || return 1
    grep -aq "Citus $CITUS_VERSION on" "$so" || return 1
}

server_version() { "$PG_BIN/postgres" --version | awk '{print $3}'; }

cmd_build() {
    if is_built; then
        log "Citus $CITUS_VERSION already installed in $(pkglibdir) - nothing to do"
        return 0
    fi
    local tarball="$VENDOR/citus-$CITUS_VERSION.tar.gz"
    [[ -f "$tarball" ]] || die "missing $tarball"
    log "installing build packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends \
        "postgresql-server-dev-$PG_MAJOR" build-essential autoconf flex bison \
        libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev libicu-dev \
        libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev \
        || { apt-get update && apt-get install -y --no-install-recommends \
        "postgresql-server-dev-$PG_MAJOR" build-essential autoconf flex bison \
        libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev libicu-dev \
        libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev; }
    mkdir -p "$CACHE"
    local src="$CACHE/citus-$CITUS_VERSION"
    if [[ ! -f "$src/.patched" ]]; then
        rm -rf "$src"
        tar -xzf "$tarball" -C "$CACHE"
        [[ -d "$src" ]] || die "tarball did not unpack into $src"
        local sv patch
        sv="$(server_version)"
        patch="$VENDOR/citus-$CITUS_VERSION-pg$sv.patch"
        # PostgreSQL 15.20 exports have_createdb_privilege(), which Citus 13.2.2 also defines.
        if grep -q 'have_createdb_privilege' "/usr/include/postgresql/$PG_MAJOR/server/commands/dbcommands.h" 2>/dev/null; then
            [[ -f "$patch" ]] || patch="$VENDOR/citus-$CITUS_VERSION-pg15.20.patch"
            log "server $sv exports have_createdb_privilege: applying $(basename "$patch")"
            (cd "$src" && patch -p1 < "$patch")
        else
            log "server $sv does not export have_createdb_privilege: no patch needed"
        fi
        touch "$src/.patched"
    fi
    cd "$src"
    if [[ ! -f Makefile.global ]]; then
        log "configure"
        PG_CONFIG="$PG_CONFIG" ./configure --without-libcurl
    fi
    log "make -j${CITUS_JOBS:-2}"
    make -j"${CITUS_JOBS:-2}"
    log "make install"
    make install
    is_built || die "install finished but citus.so/citus.control is not version $CITUS_VERSION"
    log "Citus $CITUS_VERSION installed"
}

# Settings of the three clusters (rewritten on every "up"; a running cluster reloads them).
write_conf() {
    cat > "/etc/postgresql/$PG_MAJOR/$1/conf.d/citus.conf" <<CONF
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
max_connections = 300
citus.enable_schema_based_sharding = off
# 2 workers x 4 shards: enough to spread the data, few enough for per-test TRUNCATEs
citus.shard_count = ${CITUS_SHARD_COUNT:-8}
citus.max_adaptive_executor_pool_size = 4
shared_buffers = 128MB
# local, disposable clusters: durability off for speed (never for production)
fsync = off
synchronous_commit = off
full_page_writes = off
# a test that dies mid-transaction must not hold the next one's TRUNCATE forever
idle_in_transaction_session_timeout = 60s
CONF
}

cluster_exists() { pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_MAJOR $1"; }

psql_at() { PGOPTIONS='-c client_min_messages=warning' psql -X -v ON_ERROR_STOP=1 -qAt -h 127.0.0.1 -U postgres -p "$1" "${@:2}"; }

cmd_up() {
    is_built || die "Citus is not installed: run scripts/citus.sh build"
    local entry name port
    for entry in "${CLUSTERS[@]}"; do
        name="${entry%%:*}"; port="${entry##*:}"
        if ! cluster_exists "$name"; then
            log "creating cluster $name on port $port"
            pg_createcluster "$PG_MAJOR" "$name" -p "$port" -- --auth-local=trust --auth-host=trust >/dev/null
        fi
        write_conf "$name"
        if pg_lsclusters -h | awk -v n="$name" '$2==n {print $4}' | grep -q online; then
            pg_ctlcluster "$PG_MAJOR" "$name" reload
        else
            log "starting $name"
            pg_ctlcluster "$PG_MAJOR" "$name" start
        fi
    done
    for entry in "${CLUSTERS[@]}"; do
        port="${entry##*:}"
        for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
        if [[ -z "$(psql_at "$port" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
            psql_at "$port" -d postgres -c "CREATE DATABASE $DB"
        fi
        psql_at "$port" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS citus"
    done
    psql_at "$COORD_PORT" -d "$DB" -c "SELECT citus_set_coordinator_host('127.0.0.1', $COORD_PORT)" >/dev/null
    for port in "$W1_PORT" "$W2_PORT"; do
        if [[ -z "$(psql_at "$COORD_PORT" -d "$DB" -c "SELECT 1 FROM pg_dist_node WHERE nodeport = $port")" ]]; then
            psql_at "$COORD_PORT" -d "$DB" -c "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null
        fi
    done
    log "cluster up: postgresql://postgres@127.0.0.1:$COORD_PORT/$DB"
    cmd_status
}

cmd_down() {
    local entry name
    for entry in "${CLUSTERS[@]}"; do
        name="${entry%%:*}"
        if cluster_exists "$name" && pg_lsclusters -h | awk -v n="$name" '$2==n {print $4}' | grep -q online; then
            log "stopping $name"
            pg_ctlcluster "$PG_MAJOR" "$name" stop -m fast
        fi
    done
}

cmd_destroy() {
    cmd_down
    local entry name
    for entry in "${CLUSTERS[@]}"; do
        name="${entry%%:*}"
        if cluster_exists "$name"; then log "dropping $name"; pg_dropcluster "$PG_MAJOR" "$name"; fi
    done
}

cmd_status() {
    pg_lsclusters | awk 'NR==1 || $2 ~ /^citus_/'
    if pg_isready -q -h 127.0.0.1 -p "$COORD_PORT"; then
        psql_at "$COORD_PORT" -d "$DB" -c "SELECT nodename || ':' || nodeport || ' ' || noderole || CASE WHEN groupid = 0 THEN ' (coordinator)' ELSE '' END FROM pg_dist_node ORDER BY groupid" || true
    fi
}

case "${1:-}" in
    build) cmd_build ;;
    built) is_built ;;
    up) cmd_up ;;
    down) cmd_down ;;
    destroy) cmd_destroy ;;
    status) cmd_status ;;
    *) echo "usage: $0 build|built|up|down|destroy|status" >&2; exit 2 ;;
esac
