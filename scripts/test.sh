#!/usr/bin/env bash
# Install Xiangyin with its test tools into .venv and run the whole test suite: once on
# SQLite, then once more on PostgreSQL (every test but the browser ones), on a throw-away
# cluster the tests start themselves (or XIANGYIN_TEST_POSTGRES_URL's server).
# As root on Debian/Ubuntu it also installs the independent judges the tests use (Chromium, a
# CJK font, ffprobe, FAT, PDF and QR tools, PostgreSQL, Redis, Node for axe-core and Lighthouse);
# elsewhere tests needing a missing judge are skipped, except under CI=true where a missing
# judge (or PostgreSQL) fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v fsck.fat >/dev/null 2>&1 || missing+=(dosfstools)
command -v mdir >/dev/null 2>&1 || missing+=(mtools)
command -v fatsort >/dev/null 2>&1 || missing+=(fatsort)
command -v pdffonts >/dev/null 2>&1 || missing+=(poppler-utils)
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)  # bench/listen_load.py's load generator
pg_initdb() { command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1; }
[ -n "$(pg_initdb)" ] || missing+=(postgresql)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing test tools: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Not installed (needs root + apt): ${missing[*]} — tests that need them will be skipped." >&2
  fi
fi

# axe-core and Lighthouse judge the public pages' accessibility (Lighthouse 12: Node >= 18).
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Node.js and npm for axe-core and Lighthouse"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1 && { [ ! -e .tools/node_modules/axe-core/axe.min.js ] || [ ! -x .tools/node_modules/.bin/lighthouse ]; }; then
  npm install --silent --no-audit --no-fund --prefix .tools axe-core@4 lighthouse@12 >/dev/null \
    || echo "npm could not install axe-core and Lighthouse — the accessibility tests will say so." >&2
fi

run_pytest() {
  set +e
  .venv/bin/python -m pytest "$@"
  local status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating that as a failure." >&2
    return 1
  fi
  return "$status"
}

echo "== tests on SQLite"
run_pytest "$@"
if [ -n "$(pg_initdb)" ] || [ -n "${XIANGYIN_TEST_POSTGRES_URL:-}" ] || [ "${CI:-}" = true ]; then
  echo "== tests on PostgreSQL (browser tests ran on SQLite)"
  run_pytest --db=postgresql "$@"
else
  echo "PostgreSQL is not installed: the PostgreSQL pass is skipped (apt-get install postgresql)." >&2
fi
