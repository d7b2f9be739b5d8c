#!/usr/bin/env bash
# Install everything listenloop needs into ./.venv, from package registries only, then fetch and verify the models.
# Safe to re-run: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# System packages: espeak-ng (synthetic speech), chromium (browser test of the page), PortAudio (microphone),
# Debian's asterisk prompts (real telephone speech for the recognition benchmark and tests; French and Spanish
# for the language and translation tests, bench translation).
APT_PACKAGES="espeak-ng chromium libportaudio2 asterisk-core-sounds-en-wav asterisk-core-sounds-en
  asterisk-core-sounds-fr-wav asterisk-core-sounds-fr asterisk-core-sounds-es-wav asterisk-core-sounds-es"
missing=""
for pkg in $APT_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" = none ]; then
    echo "install.sh: cannot install Debian packages:$missing (not root, no sudo); tests that need them will skip" >&2
  else
    echo "install.sh: installing Debian packages:$missing" >&2
    # Another apt or dpkg (unattended upgrades, a second install) may hold the package lock: wait for it
    # (APT_LOCK_WAIT_S, default 600 s) instead of failing at once.
    LOCK_WAIT="-o DPkg::Lock::Timeout=${APT_LOCK_WAIT_S:-600}"
    # (the lists lock of `update` is not covered by that option in every apt: retry it a few times)
    for try in 1 2 3 4 5 6; do $SUDO apt-get $LOCK_WAIT update -qq && break; echo "install.sh: apt busy, retrying" >&2; sleep 20; done
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get $LOCK_WAIT install -y -qq $missing >/dev/null
  fi
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip wheel

# llama-cpp-python has no working prebuilt CPU wheel here; the default build crashes in an AMX kernel on some CPUs.
# These flags build a portable AVX2 library (7 to 12 minutes on 2 cores; pip caches the wheel afterwards).
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
"$VENV/bin/python" -m pip install -q -e ".[all,dev,ray,train]"  # train: torch CPU and audiomentations, for `train sounds` and its test

"$VENV/bin/listenloop" models fetch
"$VENV/bin/listenloop" models fetch kokoro  # the Mandarin talkers of `data build --language zh` (optional model)
