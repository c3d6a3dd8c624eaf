#!/usr/bin/env bash
# shellcheck disable=SC2016  # data below is single-quoted on purpose: nothing in it expands
# serve.sh: written by recipec 0.1.0 from a compiled plan; recompile instead of editing.
# recipe: recipes/qwen35moe-iq4xs-mtp-q6k.recipe
# recipe sha256: 1c9a0d865b51de37bd69f92aa8ad52f2ea88a620600725813e6d41906bc1fd96
# plan sha256: e0826e5e29fa0e231fa2f9546d21d596d3374fbba5f60edf0af6528cc82de6d3
# target: cuda
#
# Starts llama-server on the quantized model with the recipe's serve settings and the target
# profile's defaults (card.md lists which is which); each can be overridden, '' drops it.
# Environment (flags win): LLAMA_SERVER MODEL HOST PORT CTX FLASH_ATTN CACHE_TYPE NGL. Arguments
# after the options (or after --) go to llama-server unchanged.
#
# Runs on bash 3.2 (macOS) and later. Before bash 4.4, `set -u` calls an empty array unbound, so
# every array is expanded as ${A[@]+"${A[@]}"} (nothing when empty, the elements otherwise).
set -euo pipefail

# The kit's directory, exact even when its name ends in a newline: $(...) drops trailing newlines,
# so no $(dirname ...), and pwd's output is kept by the x after it.
HERE=${BASH_SOURCE[0]%/*}
[[ $HERE != "${BASH_SOURCE[0]}" ]] || HERE=.
HERE=$(CDPATH='' cd -- "${HERE:-/}" && pwd && echo x)
HERE=${HERE%?x}
DEFAULT_MODEL="$HERE"/'qwen35moe-iq4xs-mtp-q6k-Q4_K.gguf'
LLAMA_SERVER=${LLAMA_SERVER:-llama-server}
MODEL=${MODEL:-$DEFAULT_MODEL}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
# Settings: -c from the recipe (serve); -fa from the target profile cuda; -ctk/-ctv from the target profile cuda; -ngl from the target profile cuda.
DEFAULT_CTX='32768'
CTX=${CTX-$DEFAULT_CTX}
DEFAULT_FLASH_ATTN='on'
FLASH_ATTN=${FLASH_ATTN-$DEFAULT_FLASH_ATTN}
DEFAULT_CACHE_TYPE='q8_0'
CACHE_TYPE=${CACHE_TYPE-$DEFAULT_CACHE_TYPE}
DEFAULT_NGL='all'
NGL=${NGL-$DEFAULT_NGL}
SPEC=(
    # draft with the model's own MTP block
    --spec-type draft-mtp
    --spec-draft-n-max '2'
    --spec-draft-n-min 0
)
DEFAULT_MMPROJ=''
MMPROJ=${MMPROJ:-$DEFAULT_MMPROJ}

usage() {
    cat <<'EOF'
usage: serve.sh [options] [--] [llama-server args…]
  --model PATH            the quantized GGUF (env MODEL; default: qwen35moe-iq4xs-mtp-q6k-Q4_K.gguf beside this script)
  --host HOST             (env HOST; default 127.0.0.1)
  --port PORT             (env PORT; default 8080)
  --llama-server PATH     the llama-server binary (env LLAMA_SERVER)
  --ctx N                 -c (env CTX; default: 32768, from the recipe (serve))
  --flash-attn on|off|auto  -fa (env FLASH_ATTN; default: on, from the target profile cuda)
  --cache-type TYPE       -ctk and -ctv (env CACHE_TYPE; default: q8_0, from the target profile cuda)
  --ngl N                 -ngl (env NGL; default: all, from the target profile cuda)
  -h, --help              this text
A setting given as '' is not passed.
EOF
}

# Every message goes through say: a control character in a name or path (a terminal escape,
# a newline) is shown as ?, never sent to the terminal.
say() {
    local msg="serve.sh: $*"
    printf '%s\n' "${msg//[[:cntrl:]]/?}" >&2
}

die() {
    say "$@"
    exit 1
}

EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --model) [[ $# -ge 2 ]] || die "--model needs a value"; MODEL=$2; shift 2 ;;
        --host) [[ $# -ge 2 ]] || die "--host needs a value"; HOST=$2; shift 2 ;;
        --port) [[ $# -ge 2 ]] || die "--port needs a value"; PORT=$2; shift 2 ;;
        --llama-server) [[ $# -ge 2 ]] || die "--llama-server needs a value"; LLAMA_SERVER=$2; shift 2 ;;
        --ctx) [[ $# -ge 2 ]] || die "--ctx needs a value"; CTX=$2; shift 2 ;;
        --flash-attn) [[ $# -ge 2 ]] || die "--flash-attn needs a value"; FLASH_ATTN=$2; shift 2 ;;
        --cache-type) [[ $# -ge 2 ]] || die "--cache-type needs a value"; CACHE_TYPE=$2; shift 2 ;;
        --ngl) [[ $# -ge 2 ]] || die "--ngl needs a value"; NGL=$2; shift 2 ;;
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

SETTINGS=()
if [[ -n $CTX ]]; then
    SETTINGS+=(-c "$CTX")
fi
if [[ -n $FLASH_ATTN ]]; then
    SETTINGS+=(-fa "$FLASH_ATTN")
fi
if [[ -n $CACHE_TYPE ]]; then
    SETTINGS+=(-ctk "$CACHE_TYPE" -ctv "$CACHE_TYPE")
fi
if [[ -n $NGL ]]; then
    SETTINGS+=(-ngl "$NGL")
fi
ARGS=(-m "$MODEL" --host "$HOST" --port "$PORT" ${SETTINGS[@]+"${SETTINGS[@]}"} ${SPEC[@]+"${SPEC[@]}"})
if [[ -n $MMPROJ ]]; then
    ARGS+=(--mmproj "$MMPROJ")
fi
exec "$LLAMA_SERVER" ${ARGS[@]+"${ARGS[@]}"} ${EXTRA[@]+"${EXTRA[@]}"}
