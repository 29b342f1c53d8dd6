# Programs built from crates.io with cargo, once per version, into a cache folder that
# installs and test runs share. Sourced by build-install.sh, run-tests.sh and
# secantusd-rs.sh.

# crate_build CRATE VERSION BINARY TOOLCHAIN CACHE: `cargo install CRATE --version VERSION`
# with the Rust TOOLCHAIN (rustup installs it when missing; "" for the default one) into
# CACHE/bin/BINARY, unless it is there. One build at a time: a second caller waits for the
# first, then finds its binary. cargo's output on stdout.
crate_build() {
    local crate=$1 version=$2 binary=$3 toolchain=$4 cache=$5
    local cargo=${CARGO_HOME:-$HOME/.cargo}/bin/cargo rustup tmp
    mkdir -p "$cache" || return 1
    # each step checked: `set -e` does not hold where the caller tests the status
    (
        flock 9 || exit 1
        [ -x "$cache/bin/$binary" ] && exit 0
        command -v cargo > /dev/null && cargo=$(command -v cargo)
        [ -x "$cargo" ] || { echo "cargo not found (install Rust with rustup)"; exit 1; }
        if [ -n "$toolchain" ]; then
            rustup=$(dirname "$cargo")/rustup
            [ -x "$rustup" ] || { echo "rustup not found beside $cargo"; exit 1; }
            "$rustup" toolchain install "$toolchain" --profile minimal || exit 1
            toolchain=+$toolchain
        fi
        tmp=$cache/build.$$
        rm -rf "$tmp"
        "$cargo" ${toolchain:+"$toolchain"} install "$crate" --version "$version" --locked \
            --root "$tmp" || exit 1
        mkdir -p "$cache/bin" && mv "$tmp/bin/$binary" "$cache/bin/$binary" || exit 1
        rm -rf "$tmp"
    ) 9> "$cache/build.lock"
}
