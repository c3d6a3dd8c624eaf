#!/usr/bin/env bash
# shellcheck disable=SC2016  # data below is single-quoted on purpose: nothing in it expands
# serve.sh: written by recipec 0.1.0 from a compiled plan; recompile instead of editing.
# recipe: recipes/qwen35moe-q4_k_m-mtp-q6k.recipe
# recipe sha256: 166e26e8f63ab1d97ad946674771ad452ad87a88709990d4a76591b0adc9e3e9
# plan sha256: 40110f5d60d48694094e9e86675347a76ed93b3a420507d301cfd0e44a85d4c7
# target: none
#
# Starts llama-server on the quantized model with the recipe's serve settings.
# Environment (flags win): LLAMA_SERVER MODEL HOST PORT. Arguments after the options
# (or after --) go to llama-server unchanged.
#
# Runs on bash 3.2 (macOS) and later. Before bash 4.4, `set -u` calls an empty array unbound, so
# every array is expanded as ${A[@]+"${A[@]}"} (nothing when empty, the elements otherwise).
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_MODEL="$HERE"/'qwen35moe-q4_k_m-mtp-q6k.gguf'
LLAMA_SERVER=${LLAMA_SERVER:-llama-server}
MODEL=${MODEL:-$DEFAULT_MODEL}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
SETTINGS=(
)
DEFAULT_MMPROJ=''
MMPROJ=${MMPROJ:-$DEFAULT_MMPROJ}

usage() {
    cat <<'EOF'
usage: serve.sh [--model PATH] [--host HOST] [--port PORT] [--llama-server PATH] [--] [llama-server args…]
EOF
}

die() {
    printf 'serve.sh: %s\n' "$*" >&2
    exit 1
}

EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --model) [[ $# -ge 2 ]] || die "--model needs a value"; MODEL=$2; shift 2 ;;
        --host) [[ $# -ge 2 ]] || die "--host needs a value"; HOST=$2; shift 2 ;;
        --port) [[ $# -ge 2 ]] || die "--port needs a value"; PORT=$2; shift 2 ;;
        --llama-server) [[ $# -ge 2 ]] || die "--llama-server needs a value"; LLAMA_SERVER=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; EXTRA+=(${1+"$@"}); break ;;
        *) EXTRA+=("$1"); shift ;;
    esac
done

# A model written with --keep-split: serve its first shard.
if [[ ! -f $MODEL && $MODEL == *.gguf ]]; then
    for f in "${MODEL%.gguf}"-00001-of-*.gguf; do
        [[ -f $f ]] && MODEL=$f
        break
    done
fi
[[ -f $MODEL ]] || die "model not found: $MODEL (run quantize.sh, or set MODEL or --model)"
command -v -- "$LLAMA_SERVER" >/dev/null 2>&1 || die "llama-server not found: $LLAMA_SERVER (set LLAMA_SERVER)"
[[ $PORT =~ ^[0-9]+$ ]] || die "PORT must be a number, got: $PORT"

ARGS=(-m "$MODEL" --host "$HOST" --port "$PORT" ${SETTINGS[@]+"${SETTINGS[@]}"})
if [[ -n $MMPROJ ]]; then
    ARGS+=(--mmproj "$MMPROJ")
fi
exec "$LLAMA_SERVER" ${ARGS[@]+"${ARGS[@]}"} ${EXTRA[@]+"${EXTRA[@]}"}
