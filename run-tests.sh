#!/usr/bin/env bash
# Run the whole test suite. Installs what the tests need first: Debian's
# rabbitmq-server, collectd-core, chromium, chromium-driver and firefox-esr (the
# console's tests), Node.js and npm when missing, the canopsis system user, a virtual
# environment in .venv with canopsis and its test dependencies, the console's build in
# console/dist, and the builds of secantusd-rs and geckodriver (Firefox's WebDriver,
# from crates.io). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ "$(id -u)" != 0 ]; then
    echo "run-tests.sh: must be run as root: the tests install canopsis into temporary prefixes and run its services (try: sudo $0)" >&2
    exit 1
fi

packages="rabbitmq-server collectd-core librabbitmq4 libyajl2 python3 python3-venv chromium chromium-driver firefox-esr"
command -v npm > /dev/null || packages="$packages nodejs npm"
missing=$(for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
done)
if [ -n "$missing" ]; then
    echo "run-tests.sh: installing $(echo $missing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing > /dev/null
fi

# the tests install prefixes owned by the canopsis system user, as the install does
# shellcheck source=build/user.sh
. build/user.sh
[ -z "$(ensure_system_user canopsis /opt/canopsis)" ] || echo "run-tests.sh: created the system user canopsis"

stamp=.venv/.canopsis-test-env
wanted=$(sha256sum setup.cfg pyproject.toml | sha256sum)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "run-tests.sh: preparing .venv"
    [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -e '.[test]'
    echo "$wanted" > "$stamp"
fi

# the console as the install builds it (build/console.sh), here into console/dist
# shellcheck source=build/console.sh
. build/console.sh
digest=$(SRC=$PWD console_digest)
if [ "$(cat console/dist/.digest 2>/dev/null)" != "$digest" ]; then
    echo "run-tests.sh: building the console into console/dist"
    console_build "$PWD/console" "$PWD/.venv/console-build" "$PWD/console/dist" > /dev/null
    echo "$digest" > console/dist/.digest
fi

# shellcheck source=build/crate.sh
. build/crate.sh
# the console's Firefox test drives it with geckodriver, built once per version
GECKODRIVER_VERSION=0.37.1
geckodriver_cache=${CANOPSIS_CACHE:-/var/cache/canopsis}/geckodriver-$GECKODRIVER_VERSION
if [ ! -x "$geckodriver_cache/bin/geckodriver" ]; then
    log=$(mktemp /var/tmp/geckodriver-build.XXXXXX.log)
    echo "run-tests.sh: building geckodriver $GECKODRIVER_VERSION into $geckodriver_cache (about 3 minutes; log: $log)"
    crate_build geckodriver "$GECKODRIVER_VERSION" geckodriver "" "$geckodriver_cache" > "$log" 2>&1 \
        || echo "run-tests.sh: the build of geckodriver failed ($(tail -n 1 "$log")): the Firefox test fails"
fi
[ -x "$geckodriver_cache/bin/geckodriver" ] && install -m 755 "$geckodriver_cache/bin/geckodriver" .venv/bin/geckodriver

# the tests run the embedded database server the install runs: secantusd-rs, built once
# per version (shared with the install's build, which it waits for when one runs)
# shellcheck source=build/secantusd-rs.sh
. build/secantusd-rs.sh
if [ -z "$(secantusd_rs_cached)" ]; then
    log=$(mktemp /var/tmp/secantusd-rs-build.XXXXXX.log)
    echo "run-tests.sh: building secantusd-rs $SECANTUS_MDB_VERSION into $SECANTUSD_RS_CACHE (about 4 minutes on 2 cores; log: $log)"
    if ! secantusd_rs_build > "$log" 2>&1; then
        echo "run-tests.sh: the build of secantusd-rs failed ($(tail -n 1 "$log")): the tests run on secantusd-py"
    fi
fi
[ -n "$(secantusd_rs_cached)" ] && secantusd_rs_copy .venv || true

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
