#!/usr/bin/env bash
# Make sure NATS (with JetStream) and PostgreSQL answer at the configured URLs.
#
#   NATS:       $ORES_TEST_NATS_URL, else $ORES_NATS_URL, else nats://127.0.0.1:4222
#   PostgreSQL: $ORES_TEST_DATABASE_URL, else $ORES_DATABASE_URL,
#               else postgres://postgres@127.0.0.1:5432/test
#
# For a local host (127.0.0.1, localhost, ::1) a service that does not answer is started from
# the installed binaries, or installed from Debian's packages first when running as root. A
# remote host is only checked. The database named in the URL is created when missing.
#
# Idempotent; prints nothing when both services are already up. Exits non-zero, with a message
# on stderr saying what to do, when a service cannot be brought up.
#
# Tunables: ORES_SERVICES_WAIT_SECS (readiness wait per service, default 30),
#           ORES_NATS_STORE_DIR, ORES_NATS_LOG (where a NATS started here keeps its data/log).
set -euo pipefail

readonly PROG="ensure-services"
readonly WAIT_SECS="${ORES_SERVICES_WAIT_SECS:-30}"
NATS_URL="${ORES_TEST_NATS_URL:-${ORES_NATS_URL:-nats://127.0.0.1:4222}}"
DATABASE_URL="${ORES_TEST_DATABASE_URL:-${ORES_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"
APT_UPDATED=0
PG_INSTALLED_HERE=0

# Debian puts server binaries in sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

is_local_host() {
    case "$1" in
    127.* | localhost | ::1 | '') return 0 ;;
    *) return 1 ;;
    esac
}

# Percent-decode a URL component (enough for user names, passwords and database names).
urldecode() {
    local s="${1//+/ }"
    printf '%b' "${s//%/\\x}"
}

# parse_url URL DEFAULT_PORT -> sets U_SCHEME U_USER U_PASS U_HOST U_PORT U_PATH
parse_url() {
    local url="$1" default_port="$2" rest authority userinfo hostport
    if [[ "$url" != *://* ]]; then
        die "\`$url\` is not a URL: expected scheme://[user[:password]@]host[:port][/path]"
    fi
    U_SCHEME="${url%%://*}"
    rest="${url#*://}"
    authority="${rest%%[/?#]*}"
    U_PATH="${rest:${#authority}}"
    U_PATH="${U_PATH%%[?#]*}"
    U_PATH="${U_PATH#/}"
    U_USER="" U_PASS=""
    if [[ "$authority" == *@* ]]; then
        userinfo="${authority%@*}"
        hostport="${authority##*@}"
        U_USER="$(urldecode "${userinfo%%:*}")"
        [[ "$userinfo" == *:* ]] && U_PASS="$(urldecode "${userinfo#*:}")"
    else
        hostport="$authority"
    fi
    if [[ "$hostport" == \[* ]]; then # [v6]:port
        U_HOST="${hostport#[}"
        U_HOST="${U_HOST%%]*}"
        U_PORT="${hostport#*]}"
        U_PORT="${U_PORT#:}"
    elif [[ "$hostport" == *:* ]]; then
        U_HOST="${hostport%:*}"
        U_PORT="${hostport##*:}"
    else
        U_HOST="$hostport"
        U_PORT=""
    fi
    [[ -n "$U_HOST" ]] || U_HOST="127.0.0.1"
    [[ -n "$U_PORT" ]] || U_PORT="$default_port"
    if ! [[ "$U_PORT" =~ ^[0-9]+$ ]]; then
        die "port \`$U_PORT\` in \`$url\` is not a number"
    fi
}

# wait_until SECONDS COMMAND... : poll COMMAND every 0.25 s until it succeeds or time runs out.
wait_until() {
    local secs="$1" deadline
    shift
    deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        "$@" && return 0
        sleep 0.25
    done
    "$@"
}

apt_install() {
    if ! is_root; then
        die "missing $*: install with \`sudo apt-get install -y $*\` (or run this script as root)"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing $* and no apt-get here: install $* with the system's package manager"
    fi
    say "installing $* from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    if ((APT_UPDATED == 0)); then
        apt-get update -qq >&2 || die "\`apt-get update\` failed"
        APT_UPDATED=1
    fi
    apt-get install -y -qq "$@" >&2 || die "\`apt-get install -y $*\` failed"
}

# ---------------------------------------------------------------------------------------------
# NATS
# ---------------------------------------------------------------------------------------------

# Print the INFO line the server at $1:$2 sends on connect. Returns 1 when nothing accepts the
# connection (or it hangs), 3 when something accepts it but sends no line.
nats_info() {
    local host="$1" port="$2" rc=0 out
    # The subshell is bounded by `timeout`, so a silent or filtered host cannot hang us.
    # shellcheck disable=SC2016 # $0/$1 expand in the inner shell
    out="$(timeout 4 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        IFS= read -r -t 2 line <&3 || exit 3
        printf "%s\n" "$line"
    ' "$host" "$port" 2>/dev/null)" || rc=$?
    case "$rc" in
    0) printf '%s\n' "${out%$'\r'}" ;;
    3) return 3 ;;
    *) return 1 ;;
    esac
}

nats_ok() {
    local info
    info="$(nats_info "$1" "$2")" || return 1
    [[ "$info" == INFO* && "$info" == *'"jetstream":true'* ]]
}

nats_binary() {
    command -v nats-server 2>/dev/null || true
}

start_nats() {
    local host="$1" port="$2" bin store log
    bin="$(nats_binary)"
    if [[ -z "$bin" ]]; then
        apt_install nats-server
        bin="$(nats_binary)"
        [[ -n "$bin" ]] || die "nats-server is still not on PATH after installing it"
    fi
    if is_root && [[ "$port" == 4222 ]]; then
        store="${ORES_NATS_STORE_DIR:-/var/lib/nats-server}"
        log="${ORES_NATS_LOG:-/var/log/nats-server.log}"
    else
        store="${ORES_NATS_STORE_DIR:-${TMPDIR:-/tmp}/ores-nats-$port/store}"
        log="${ORES_NATS_LOG:-${TMPDIR:-/tmp}/ores-nats-$port/nats-server.log}"
    fi
    mkdir -p "$store" "$(dirname "$log")"
    say "starting nats-server on $host:$port (JetStream store $store, log $log)"
    # Detached from this shell so it outlives the script (and CI steps that run it).
    # shellcheck disable=SC2094 # start-up errors go to stderr before the server opens its log
    setsid nohup "$bin" -a "$host" -p "$port" -js -sd "$store" -l "$log" \
        </dev/null >>"$log" 2>&1 &
    local pid=$! deadline=$((SECONDS + WAIT_SECS))
    until nats_ok "$host" "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            die "nats-server on $host:$port exited at start-up; last lines of $log: $(tail -n 3 "$log" | tr '\n' ' ')"
        fi
        if ((SECONDS >= deadline)); then
            die "nats-server on $host:$port did not come up with JetStream within ${WAIT_SECS}s; see $log"
        fi
        sleep 0.25
    done
}

ensure_nats() {
    local host port info
    parse_url "$NATS_URL" 4222
    host="$U_HOST" port="$U_PORT"
    case "$U_SCHEME" in
    nats | tls) ;;
    *) die "NATS URL \`$NATS_URL\` has scheme \`$U_SCHEME\`: expected nats:// or tls://" ;;
    esac

    local rc=0
    info="$(nats_info "$host" "$port")" || rc=$?
    if ((rc == 3)); then
        die "something listens on $host:$port but it is not a NATS server (it sent no INFO line)"
    fi
    if ((rc == 0)); then
        if [[ "$info" != INFO* ]]; then
            die "something listens on $host:$port but it is not a NATS server (it sent \`${info:0:40}\`)"
        fi
        if [[ "$info" != *'"jetstream":true'* ]]; then
            die "NATS at $host:$port runs without JetStream: restart it with \`-js\` (e.g. nats-server -a $host -p $port -js -sd <dir>)"
        fi
        return 0
    fi
    if ! is_local_host "$host"; then
        die "NATS does not answer at $host:$port (from \`$NATS_URL\`); it is not local, so start it there"
    fi
    start_nats "$host" "$port"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

pg_ready() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -t 2 >/dev/null 2>&1
}

# psql over TCP with the URL's credentials against a maintenance database.
pg_psql() {
    PGPASSWORD="$PG_PASS" PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -tA \
        -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "${PG_MAINT_DB}" "$@"
}

pg_server_bins_present() {
    command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G '/etc/postgresql/*/*/postgresql.conf' >/dev/null
}

# Sets PG_CLUSTER (its config dir), PG_CLUSTER_VERSION and PG_CLUSTER_NAME: the cluster
# configured for $PG_PORT, else the first `main`, else the first one.
find_cluster() {
    local conf
    PG_CLUSTER=""
    for conf in /etc/postgresql/*/*/postgresql.conf; do
        [[ -f "$conf" ]] || continue
        if grep -Eq "^[[:space:]]*port[[:space:]]*=[[:space:]]*$PG_PORT\b" "$conf"; then
            PG_CLUSTER="$(dirname "$conf")"
            break
        fi
    done
    if [[ -z "$PG_CLUSTER" ]]; then
        # shellcheck disable=SC2012 # Debian's cluster paths are plain names
        conf="$(ls -d /etc/postgresql/*/main/postgresql.conf /etc/postgresql/*/*/postgresql.conf 2>/dev/null | head -n1 || true)"
        [[ -n "$conf" ]] || die "no PostgreSQL cluster under /etc/postgresql: create one with \`pg_createcluster <version> main --start\`"
        PG_CLUSTER="$(dirname "$conf")"
        say "warning: no PostgreSQL cluster is configured for port $PG_PORT; using $PG_CLUSTER"
    fi
    PG_CLUSTER_NAME="$(basename "$PG_CLUSTER")"
    PG_CLUSTER_VERSION="$(basename "$(dirname "$PG_CLUSTER")")"
}

start_postgres() {
    if ! pg_server_bins_present; then
        apt_install postgresql
        PG_INSTALLED_HERE=1
        pg_server_bins_present || die "no PostgreSQL cluster under /etc/postgresql after installing postgresql"
    fi
    find_cluster
    say "starting PostgreSQL cluster $PG_CLUSTER_VERSION/$PG_CLUSTER_NAME"
    if ! pg_ctlcluster --skip-systemctl-redirect "$PG_CLUSTER_VERSION" "$PG_CLUSTER_NAME" start >&2; then
        # Already running (but not answering on our port), or failed: the wait below decides.
        say "warning: \`pg_ctlcluster $PG_CLUSTER_VERSION $PG_CLUSTER_NAME start\` failed"
    fi
    if ! wait_until "$WAIT_SECS" pg_ready; then
        die "PostgreSQL did not answer at $PG_HOST:$PG_PORT within ${WAIT_SECS}s; see /var/log/postgresql/postgresql-$PG_CLUSTER_VERSION-$PG_CLUSTER_NAME.log"
    fi
}

# A freshly installed Debian cluster asks for passwords over TCP; the tests connect as
# postgres@127.0.0.1 without one (as on the project's machines), so trust loopback there.
allow_local_trust() {
    local hba
    find_cluster
    hba="$PG_CLUSTER/pg_hba.conf"
    [[ -f "$hba" ]] || return 0
    say "allowing password-less loopback connections in $hba (fresh install)"
    sed -i -E 's/^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1\/32|::1\/128)[[:space:]]+).*/\1trust/' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$PG_CLUSTER_VERSION" "$PG_CLUSTER_NAME" reload >&2 || true
    sleep 1
}

ensure_database() {
    local exists err
    [[ -n "$PG_DB" ]] || return 0
    if ! err="$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '${PG_DB//\'/\'\'}'" 2>&1)"; then
        die "cannot query PostgreSQL at $PG_HOST:$PG_PORT as \`$PG_USER\`: ${err//$'\n'/ }"
    fi
    exists="$err"
    [[ "$exists" == 1 ]] && return 0
    if ! err="$(pg_psql -c "CREATE DATABASE \"${PG_DB//\"/\"\"}\"" 2>&1)"; then
        # Someone else may have created it in the meantime.
        if [[ "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '${PG_DB//\'/\'\'}'" 2>/dev/null)" == 1 ]]; then
            return 0
        fi
        die "cannot create database \`$PG_DB\` as \`$PG_USER\`: ${err//$'\n'/ }"
    fi
}

ensure_postgres() {
    parse_url "$DATABASE_URL" 5432
    case "$U_SCHEME" in
    postgres | postgresql) ;;
    *) die "database URL \`$DATABASE_URL\` has scheme \`$U_SCHEME\`: expected postgres://" ;;
    esac
    PG_HOST="$U_HOST" PG_PORT="$U_PORT"
    PG_USER="${U_USER:-${PGUSER:-postgres}}"
    PG_PASS="${U_PASS:-${PGPASSWORD:-}}"
    PG_DB="$(urldecode "${U_PATH}")"
    PG_MAINT_DB="postgres"
    [[ "$PG_DB" == postgres ]] && PG_MAINT_DB="template1"

    if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
        if is_local_host "$PG_HOST"; then
            apt_install postgresql
            PG_INSTALLED_HERE=1
        else
            apt_install postgresql-client
        fi
    fi

    if ! pg_ready; then
        if ! is_local_host "$PG_HOST"; then
            die "PostgreSQL does not answer at $PG_HOST:$PG_PORT (from \`$DATABASE_URL\`); it is not local, so start it there"
        fi
        start_postgres
    fi
    if ((PG_INSTALLED_HERE == 1)) && is_root; then
        allow_local_trust
    fi
    # pg_isready answers without checking the database, so check it by query.
    ensure_database
}

main() {
    if [[ $# -gt 0 ]]; then
        case "$1" in
        -h | --help)
            sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
            return 0
            ;;
        *) die "unexpected argument \`$1\` (this script takes none; configure it with ORES_* variables)" ;;
        esac
    fi
    command -v timeout >/dev/null 2>&1 || die "missing \`timeout\` (coreutils)"
    ensure_nats
    ensure_postgres
}

# Sourcing the file (e.g. to test parse_url) defines the functions without running anything.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
