#!/usr/bin/env bash
# Run natter's cargo-fuzz targets (fuzz/fuzz_targets/) for a bounded time each.
# Not part of CI: libFuzzer's coverage instrumentation needs a nightly toolchain. The targets'
# bodies are natter::fuzzing's functions, which the property tests (tests/it/fuzz_props.rs) run on
# stable in CI; `cargo check --manifest-path fuzz/Cargo.toml` type-checks the targets on stable.
#
#   benches/fuzz.sh                 # every target, FUZZ_SECS (default 60) seconds each
#   FUZZ_SECS=600 benches/fuzz.sh range upload
#
# With cargo-fuzz installed (`cargo install cargo-fuzz`) it runs `cargo +nightly fuzz run`
# (AddressSanitizer included). Without it, it builds the targets itself with the same coverage
# flags cargo-fuzz passes (no sanitizer) and runs the binaries. Corpora grow in fuzz/corpus/,
# crashes land in fuzz/artifacts/; reproduce one with the target binary and the crash file.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(json_bodies queries socket_events range upload flag_values image_metadata)
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "a nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 2
fi

if cargo +nightly fuzz --version >/dev/null 2>&1; then
    cd fuzz
    for target in "${targets[@]}"; do
        echo "== $target: ${secs}s"
        cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -print_final_stats=1
    done
    exit 0
fi

host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo +nightly build --release --manifest-path fuzz/Cargo.toml --target "$host" --bins
for target in "${targets[@]}"; do
    echo "== $target: ${secs}s"
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    "fuzz/target/$host/release/$target" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target/" "fuzz/corpus/$target"
done
