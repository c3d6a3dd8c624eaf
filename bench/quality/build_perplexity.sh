#!/usr/bin/env bash
# Build llama-perplexity into the cached llama.cpp build (the build script does not list it yet)
# and print its path. Needs scripts/build_llama_cpp.sh to have run once.
set -euo pipefail
CACHE_ROOT="${RECIPEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recipec}"
HOME_DIR="$CACHE_ROOT/llama.cpp-11434"
BIN="$HOME_DIR/bin"
if [[ -x "$BIN/llama-perplexity" ]]; then echo "$BIN/llama-perplexity"; exit 0; fi
exec 9>"$HOME_DIR/.lock"
flock 9
if [[ -x "$BIN/llama-perplexity" ]]; then echo "$BIN/llama-perplexity"; exit 0; fi
cmake --build "$HOME_DIR/build" --target llama-perplexity -j "${RECIPEC_BUILD_JOBS:-2}" >&2
cp "$HOME_DIR/build/bin/llama-perplexity" "$BIN/llama-perplexity.tmp"
mv "$BIN/llama-perplexity.tmp" "$BIN/llama-perplexity"
echo "$BIN/llama-perplexity"
