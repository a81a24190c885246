#!/usr/bin/env bash
# Runs `conan create` of camkit's Conan 2 recipe with the Debian profile (conan/profiles/debian)
# offline, on a copy of the recipe's files in WORK_DIR with a private CONAN_HOME, so that neither
# the source tree nor the user's Conan cache is touched. Exit 77 (skipped) without a conan command,
# unless CAMKIT_REQUIRE_CONAN=1 (the test command sets it): then a missing command is a failure.
#   conan_create.sh SOURCE_DIR WORK_DIR
# The command is $CAMKIT_CONAN (words split on blanks, e.g. "build/venv/bin/conan", the one
# scripts/setup.sh installs), `conan` on PATH, or SOURCE_DIR/build/venv/bin/conan.
set -euo pipefail
src=$1
work=$2
if [[ -n "${CAMKIT_CONAN:-}" ]]; then
    read -r -a conan <<< "$CAMKIT_CONAN"
elif command -v conan > /dev/null; then
    conan=(conan)
elif [[ -x "$src/build/venv/bin/conan" ]]; then
    conan=("$src/build/venv/bin/conan")
elif [[ "${CAMKIT_REQUIRE_CONAN:-0}" == 1 ]]; then
    echo "camkit_package_conan: FAILED: no conan command and CAMKIT_REQUIRE_CONAN=1 (run scripts/setup.sh)"
    exit 1
else
    echo "camkit_package_conan: skipped: no conan command (run scripts/setup.sh, set CAMKIT_CONAN or put Conan 2 on PATH)"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work/src"
cp -r "$src/conanfile.py" "$src/LICENSE" "$src/include" "$src/io" "$src/test_package" "$src/conan" "$work/src/"
mkdir -p "$work/src/adapters"
for adapter in "$src"/adapters/*/; do
    name=$(basename "$adapter")
    [[ -d "$adapter/include" ]] || continue
    mkdir -p "$work/src/adapters/$name"
    cp -r "$adapter/include" "$work/src/adapters/$name/"
done
rm -rf "$work/src/test_package/build"
export CONAN_HOME="$work/home"

"${conan[@]}" --version
# -nr: no remote is consulted; every dependency is a [platform_requires] of the profile.
"${conan[@]}" create "$work/src" --profile:all "$work/src/conan/profiles/debian" --no-remote 2>&1 | tee "$work/create.log"
# The BLAS adapter's component too (xtensor-blas and OpenBLAS from the profile's platform packages).
"${conan[@]}" create "$work/src" --profile:all "$work/src/conan/profiles/debian" --no-remote -o "&:with_blas=True" 2>&1 |
    tee "$work/create_blas.log"
# The test_package programs print "... ok"; make sure they ran.
grep -q "test_package (core): ok" "$work/create.log"
grep -q "test_package (io): ok" "$work/create.log"
grep -q "test_package (xtensor): ok" "$work/create.log"
grep -q "test_package (blas): ok" "$work/create_blas.log"
echo "camkit_package_conan: conan create and test_package passed"
