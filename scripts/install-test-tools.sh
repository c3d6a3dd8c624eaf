#!/usr/bin/env bash
# The tools the test suite needs beyond its Python packages and the llama.cpp build (which the
# tests build themselves): a headless Chromium, in which tests/test_release_render.py loads a
# release card and counts the pixels of its pictures.
#
# A Chromium already on PATH (or named by CHROMIUM) is used as it is. Otherwise, as root (or with
# sudo that needs no password) on a Debian-like system, Debian's `chromium` package is installed
# with apt-get. Anywhere else this
# says how to install it and exits 0: the render test then skips with that reason, except in CI
# (CI or RECIPEC_CI set), where a missing Chromium fails it.
set -uo pipefail

say() { printf 'install-test-tools: %s\n' "$*" >&2; }

have_chromium() {
    if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then return 0; fi
    local name
    for name in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$name" >/dev/null 2>&1; then return 0; fi
    done
    return 1
}

if have_chromium; then
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive)  # sudo without a password prompt only
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && [ "${#as_root[@]}" -eq 0 ]; }; then
    say "no Chromium on PATH: the render test will skip (install Debian's chromium: apt-get install chromium)"
    exit 0
fi
say "installing Debian's chromium for the render test (once; about 100 MB)"
export DEBIAN_FRONTEND=noninteractive
apt_install() { ${as_root[@]+"${as_root[@]}"} apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
# A machine whose package lists were never fetched (a fresh container) needs them first.
if ! apt_install && ! { ${as_root[@]+"${as_root[@]}"} apt-get update -qq >/dev/null && apt_install; }; then
    say "apt-get could not install chromium: the render test will say so"
    exit 0
fi
if have_chromium; then
    say "chromium installed: $(command -v chromium)"
fi
exit 0
