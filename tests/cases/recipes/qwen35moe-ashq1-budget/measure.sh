#!/usr/bin/env bash
# shellcheck disable=SC2016  # data below is single-quoted on purpose: nothing in it expands
# measure.sh: written by recipec 0.1.0 from a compiled plan; recompile instead of editing.
# recipe: recipes/qwen35moe-ashq1-budget.recipe
# recipe sha256: 9310693e655ed32f2c96680fc3f65b70f91ec94f43fb363170021824da342ae9
# plan sha256: b780cb0cdf66285e876c27d07cc5ee0774ebbc4c005638a1cf9c0ec5673cd93b
#
# Runs `recipec measure` where the model's weights are: the measured error t² of every tensor
# llama-quantize quantizes, at each type the plan's optimiser chose among (with the imatrix, on a
# row sample, by the real llama-quantize), and with --kld TEXT the KLD probes that fit α with the
# real llama-perplexity. It writes the error file to commit beside the recipe; compile with it:
#     recipec compile RECIPE --model MODEL --imatrix IMATRIX --errors errors.json -o KIT
# A killed run resumes from OUT.work/. Arguments after -- go to `recipec measure` unchanged
# (e.g. -- --ctx 512 --chunks 40 --threads 8).
#
# Environment (flags win): RECIPEC LLAMA_QUANTIZE LLAMA_PERPLEXITY MODEL IMATRIX OUT KLD_TEXT PROBE.
#
# Runs on bash 3.2 (macOS) and later. Before bash 4.4, `set -u` calls an empty array unbound, so
# every array is expanded as ${A[@]+"${A[@]}"} (nothing when empty, the elements otherwise).
set -euo pipefail

# The types to measure (none listed: recipec measure's defaults).
TYPES=(
    'Q3_K'
    'IQ4_XS'
    'Q4_K'
    'Q5_K'
    'Q6_K'
    'Q8_0'
)

# The kit's directory, exact even when its name ends in a newline: $(...) drops trailing newlines,
# so no $(dirname ...), and pwd's output is kept by the x after it.
HERE=${BASH_SOURCE[0]%/*}
[[ $HERE != "${BASH_SOURCE[0]}" ]] || HERE=.
HERE=$(CDPATH='' cd -- "${HERE:-/}" && pwd && echo x)
HERE=${HERE%?x}
DEFAULT_MODEL=
DEFAULT_IMATRIX=
RECIPEC=${RECIPEC:-recipec}
LLAMA_QUANTIZE=${LLAMA_QUANTIZE:-llama-quantize}
LLAMA_PERPLEXITY=${LLAMA_PERPLEXITY:-}
MODEL=${MODEL:-$DEFAULT_MODEL}
IMATRIX=${IMATRIX-$DEFAULT_IMATRIX}
OUT=${OUT:-$HERE/errors.json}
KLD_TEXT=${KLD_TEXT:-}
PROBE=${PROBE:-}

usage() {
    cat <<'EOF'
usage: measure.sh [options] [-- recipec-measure-args…]
  --model PATH              the source GGUF, first shard of a split model (env MODEL)
  --imatrix PATH            the importance matrix, '' for none (env IMATRIX)
  --out PATH                the error file to write (env OUT; default errors.json beside this script)
  --llama-quantize PATH     the llama-quantize binary (env LLAMA_QUANTIZE)
  --kld TEXT                also run the KLD probes on this text and fit alpha (env KLD_TEXT)
  --probe role|band|tensor  one probe per role, role x depth band (default), or tensor (env PROBE)
  --llama-perplexity PATH   the llama-perplexity binary (env LLAMA_PERPLEXITY; default: beside
                            llama-quantize, else on PATH)
  -h, --help                this text
EOF
}

# Every message goes through say: a control character in a name or path (a terminal escape,
# a newline) is shown as ?, never sent to the terminal.
say() {
    local msg="measure.sh: $*"
    printf '%s\n' "${msg//[[:cntrl:]]/?}" >&2
}

die() {
    say "$@"
    exit 1
}

need_value() {
    [[ $# -ge 2 ]] || die "$1 needs a value"
}

EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --model) need_value "$@"; MODEL=$2; shift 2 ;;
        --imatrix) need_value "$@"; IMATRIX=$2; shift 2 ;;
        --out) need_value "$@"; OUT=$2; shift 2 ;;
        --llama-quantize) need_value "$@"; LLAMA_QUANTIZE=$2; shift 2 ;;
        --kld) need_value "$@"; KLD_TEXT=$2; shift 2 ;;
        --probe) need_value "$@"; PROBE=$2; shift 2 ;;
        --llama-perplexity) need_value "$@"; LLAMA_PERPLEXITY=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

# A path recipec could read as an option (leading -) gets a ./ in front.
as_arg() {
    case $1 in
        -*) printf './%s' "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}

# --- preflight -----------------------------------------------------------------------------------
command -v -- "$RECIPEC" >/dev/null 2>&1 || die "recipec not found: $RECIPEC (set RECIPEC; pip install recipec)"
quantize_path=$(command -v -- "$LLAMA_QUANTIZE" 2>/dev/null) ||
    die "llama-quantize not found: $LLAMA_QUANTIZE (set LLAMA_QUANTIZE or --llama-quantize)"
[[ -n $MODEL ]] || die "no model: the plan records no source file name; give the source GGUF with --model PATH (or MODEL)"
[[ -f $MODEL ]] || die "model not found: $MODEL (set MODEL or --model)"
if [[ -n $IMATRIX ]]; then
    [[ -f $IMATRIX ]] || die "imatrix not found: $IMATRIX (set IMATRIX or --imatrix, '' for none)"
    [[ $IMATRIX != *.json ]] || die "$IMATRIX is an imatrix summary; give the imatrix GGUF or .dat"
fi
[[ -z $PROBE || -n $KLD_TEXT ]] || die "--probe needs --kld TEXT (the probes run on a text)"
out_dir=${OUT%/*}  # not $(dirname ...), which drops a trailing newline of the name
[[ $out_dir != "$OUT" ]] || out_dir=.
out_dir=${out_dir:-/}
[[ -d $out_dir ]] || die "output directory not found: $out_dir"

ARGS=(measure "$(as_arg "$MODEL")" -o "$(as_arg "$OUT")" --llama-quantize "$quantize_path")
if [[ ${#TYPES[@]} -gt 0 ]]; then
    ARGS+=(--types ${TYPES[@]+"${TYPES[@]}"})
fi
if [[ -n $IMATRIX ]]; then
    ARGS+=(--imatrix "$(as_arg "$IMATRIX")")
fi
if [[ -n $KLD_TEXT ]]; then
    [[ -f $KLD_TEXT ]] || die "probe text not found: $KLD_TEXT"
    ARGS+=(--kld "$(as_arg "$KLD_TEXT")")
    if [[ -n $PROBE ]]; then
        ARGS+=(--probe "$PROBE")
    fi
    if [[ -n $LLAMA_PERPLEXITY ]]; then
        perplexity_path=$(command -v -- "$LLAMA_PERPLEXITY" 2>/dev/null) ||
            die "llama-perplexity not found: $LLAMA_PERPLEXITY (set LLAMA_PERPLEXITY or --llama-perplexity)"
        ARGS+=(--llama-perplexity "$perplexity_path")
    fi
fi

{
    printf 'measure.sh: running %s' "$RECIPEC"
    printf ' %q' ${ARGS[@]+"${ARGS[@]}"} ${EXTRA[@]+"${EXTRA[@]}"}
    echo
} >&2
"$RECIPEC" ${ARGS[@]+"${ARGS[@]}"} ${EXTRA[@]+"${EXTRA[@]}"}
say "wrote $OUT; commit it beside the recipe and compile with --errors"
