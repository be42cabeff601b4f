#!/usr/bin/env bash
# Runs the whole test suite, including the end-to-end tests against real Dovecot + Postfix.
# Usage: tests/run.sh [extra cargo test args...]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'run.sh: %s\n' "$*" >&2; }

missing_mail_pkgs() {
    local missing=()
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
    [ -e /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
    [ -e /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
    [ -x /usr/sbin/postfix ] || missing+=(postfix)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the TLS lab's certificates
    printf '%s\n' "${missing[@]}" | sort -u | grep -v '^$' || true
}

# --- 1. mail servers ---------------------------------------------------------
missing="$(missing_mail_pkgs)"
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "ERROR: missing mail server packages: $(echo $missing) — run as root, or: sudo apt-get install -y dovecot-imapd dovecot-lmtpd postfix openssl"
        exit 1
    fi
    log "installing dovecot-imapd dovecot-lmtpd postfix openssl"
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    echo "postfix postfix/mailname string localhost" | debconf-set-selections
    # Keep package scripts from starting system services where policy-rc.d is honoured.
    policy_created=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        dovecot-imapd dovecot-lmtpd postfix openssl </dev/null
    if [ -n "$policy_created" ]; then rm -f /usr/sbin/policy-rc.d; fi
    missing="$(missing_mail_pkgs)"
    if [ -n "$missing" ]; then
        log "ERROR: still missing after install: $(echo $missing)"
        exit 1
    fi
fi

# No system instance may hold the standard ports (25, 143, 993, 24): tests start their own.
if [ "$(id -u)" -eq 0 ]; then
    if [ -f /var/spool/postfix/pid/master.pid ] && kill -0 "$(tr -dc 0-9 < /var/spool/postfix/pid/master.pid)" 2>/dev/null; then
        log "stopping system postfix instance"
        postfix stop >/dev/null 2>&1 || true
    fi
    if [ -f /run/dovecot/master.pid ] && kill -0 "$(tr -dc 0-9 < /run/dovecot/master.pid)" 2>/dev/null; then
        log "stopping system dovecot instance"
        doveadm stop >/dev/null 2>&1 || kill "$(tr -dc 0-9 < /run/dovecot/master.pid)" 2>/dev/null || true
    fi
fi

# --- 2. PostgreSQL -----------------------------------------------------------
# The store and pipeline tests run on SQLite and on PostgreSQL. Set
# CLOSELOOP_TEST_POSTGRES to use another server; by default the local one on
# 127.0.0.1:5432 (trust auth, user postgres), installed and started when missing.
# Once the variable is set, a server that does not answer fails the tests.
pg_host=127.0.0.1
pg_port=5432
pg_ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$pg_host" -p "$pg_port"; }
if [ -z "${CLOSELOOP_TEST_POSTGRES:-}" ]; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            log "ERROR: PostgreSQL is not installed — run as root, or: sudo apt-get install -y postgresql"
            exit 1
        fi
        log "installing postgresql"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql </dev/null
        pgver="$(ls /etc/postgresql | sort -V | tail -n1)"
        # Tests connect as postgres over loopback without a password.
        hba="/etc/postgresql/$pgver/main/pg_hba.conf"
        sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    if ! pg_ready; then
        if [ "$(id -u)" -ne 0 ]; then
            log "ERROR: PostgreSQL does not answer on $pg_host:$pg_port — start it (as root: pg_ctlcluster <version> main start)"
            exit 1
        fi
        pgver="$(ls /etc/postgresql | sort -V | tail -n1)"
        log "starting PostgreSQL $pgver"
        pg_ctlcluster --skip-systemctl-redirect "$pgver" main start || true
        for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
        if ! pg_ready; then
            log "ERROR: PostgreSQL $pgver did not start on $pg_host:$pg_port"
            exit 1
        fi
    fi
    export CLOSELOOP_TEST_POSTGRES="postgres://postgres@$pg_host:$pg_port"
fi
log "PostgreSQL tests use $(printf '%s' "$CLOSELOOP_TEST_POSTGRES" | sed -E 's#://([^:@/]*):[^@/]*@#://\1:***@#')"

# --- 3. tests ----------------------------------------------------------------
export CLOSELOOP_E2E=1
out="$(mktemp /tmp/closeloop-test-XXXXXX.log)"
trap 'rm -f "$out"' EXIT
set +e
cargo test --locked "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# MailLab::start prints "e2e: lab started for <test name> ..." straight to stderr (uncaptured).
labs="$(grep -o 'e2e: lab started for [^ ]*' "$out" || true)"
e2e_labs="$(printf '%s' "$labs" | grep -c . || true)"
e2e_tests="$(printf '%s' "$labs" | sed 's/^e2e: lab started for //' | sort -u | grep -c . || true)"
if [ "$e2e_tests" -eq 0 ]; then
    log "WARNING: no end-to-end test ran (0 mail labs started)"
else
    log "end-to-end tests run against real Dovecot + Postfix: $e2e_tests ($e2e_labs mail labs started)"
fi
exit "$status"
