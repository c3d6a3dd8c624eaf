#!/usr/bin/env bash
# shellcheck disable=SC2016  # data below is single-quoted on purpose: nothing in it expands
# quantize.sh: written by recipec 0.1.0 from a compiled plan; recompile instead of editing.
# recipe: recipes/qwen35moe-ashq1-budget.recipe
# recipe sha256: 9310693e655ed32f2c96680fc3f65b70f91ec94f43fb363170021824da342ae9
# plan sha256: b780cb0cdf66285e876c27d07cc5ee0774ebbc4c005638a1cf9c0ec5673cd93b (plan.lock.json beside this script)
#
# Runs llama-quantize so that every tensor gets the type the plan says, and proves it:
# preflight (binary, inputs, their header hashes, free space), a --dry-run gate that compares
# every tensor's final type with the plan before anything is written, the real run into
# OUT.partial, a check of the written file against the plan, then the rename to OUT.
#
# Environment (flags win): LLAMA_QUANTIZE MODEL IMATRIX OUT THREADS RECIPEC.
#
# Runs on bash 3.2 (macOS) and later. Before bash 4.4, `set -u` calls an empty array unbound, so
# every array is expanded as ${A[@]+"${A[@]}"} (nothing when empty, the elements otherwise).
set -euo pipefail

# --- the plan, as data ---------------------------------------------------------------------------
RECIPE_NAME='qwen35moe-ashq1-17gib'  # as shown in messages: control characters escaped
PLAN_SHA256='b780cb0cdf66285e876c27d07cc5ee0774ebbc4c005638a1cf9c0ec5673cd93b'
FTYPE='Q4_K_M'
PREDICTED_BYTES=18253606240
SPLIT_INPUT=0
OPTIONS=(
)
PROVENANCE=(
    --override-kv 'recipec.recipe=str:qwen35moe-ashq1-17gib'
    --override-kv "recipec.plan_sha256=str:$PLAN_SHA256"
)
# Source shards: header bytes and the sha256 of those bytes (what `recipec inspect` records).
SHARD_HEADER_BYTES=( )
SHARD_HEADER_SHA256=( )
IMATRIX_SHA256=''
PLAN_USED_IMATRIX=1
plan_types() {
    cat <<'RECIPEC_PLAN_TYPES'
output.weight Q6_K
output_norm.weight F32
token_embd.weight Q4_K
blk.0.attn_gate.weight Q4_K
blk.0.attn_norm.weight F32
blk.0.attn_qkv.weight Q4_K
blk.0.ffn_down_exps.weight IQ4_XS
blk.0.ffn_down_shexp.weight Q4_K
blk.0.ffn_gate_exps.weight IQ4_XS
blk.0.ffn_gate_inp.weight F32
blk.0.ffn_gate_inp_shexp.weight F32
blk.0.ffn_gate_shexp.weight Q4_K
blk.0.ffn_up_exps.weight IQ4_XS
blk.0.ffn_up_shexp.weight Q4_K
blk.0.post_attention_norm.weight F32
blk.0.ssm_a F32
blk.0.ssm_alpha.weight Q4_K
blk.0.ssm_beta.weight Q4_K
blk.0.ssm_conv1d.weight F32
blk.0.ssm_dt.bias F32
blk.0.ssm_norm.weight F32
blk.0.ssm_out.weight Q4_K
blk.1.attn_gate.weight Q4_K
blk.1.attn_norm.weight F32
blk.1.attn_qkv.weight Q4_K
blk.1.ffn_down_exps.weight IQ4_XS
blk.1.ffn_down_shexp.weight Q4_K
blk.1.ffn_gate_exps.weight IQ4_XS
blk.1.ffn_gate_inp.weight F32
blk.1.ffn_gate_inp_shexp.weight F32
blk.1.ffn_gate_shexp.weight Q4_K
blk.1.ffn_up_exps.weight IQ4_XS
blk.1.ffn_up_shexp.weight Q4_K
blk.1.post_attention_norm.weight F32
blk.1.ssm_a F32
blk.1.ssm_alpha.weight Q5_K
blk.1.ssm_beta.weight Q5_K
blk.1.ssm_conv1d.weight F32
blk.1.ssm_dt.bias F32
blk.1.ssm_norm.weight F32
blk.1.ssm_out.weight Q4_K
blk.2.attn_gate.weight Q4_K
blk.2.attn_norm.weight F32
blk.2.attn_qkv.weight Q4_K
blk.2.ffn_down_exps.weight IQ4_XS
blk.2.ffn_down_shexp.weight Q4_K
blk.2.ffn_gate_exps.weight Q3_K
blk.2.ffn_gate_inp.weight F32
blk.2.ffn_gate_inp_shexp.weight F32
blk.2.ffn_gate_shexp.weight IQ4_XS
blk.2.ffn_up_exps.weight Q3_K
blk.2.ffn_up_shexp.weight IQ4_XS
blk.2.post_attention_norm.weight F32
blk.2.ssm_a F32
blk.2.ssm_alpha.weight Q4_K
blk.2.ssm_beta.weight Q4_K
blk.2.ssm_conv1d.weight F32
blk.2.ssm_dt.bias F32
blk.2.ssm_norm.weight F32
blk.2.ssm_out.weight Q4_K
blk.3.attn_k.weight Q4_K
blk.3.attn_k_norm.weight F32
blk.3.attn_norm.weight F32
blk.3.attn_output.weight Q4_K
blk.3.attn_q.weight Q4_K
blk.3.attn_q_norm.weight F32
blk.3.attn_v.weight Q4_K
blk.3.ffn_down_exps.weight IQ4_XS
blk.3.ffn_down_shexp.weight IQ4_XS
blk.3.ffn_gate_exps.weight IQ4_XS
blk.3.ffn_gate_inp.weight F32
blk.3.ffn_gate_inp_shexp.weight F32
blk.3.ffn_gate_shexp.weight IQ4_XS
blk.3.ffn_up_exps.weight IQ4_XS
blk.3.ffn_up_shexp.weight IQ4_XS
blk.3.post_attention_norm.weight F32
blk.4.attn_gate.weight Q4_K
blk.4.attn_norm.weight F32
blk.4.attn_qkv.weight Q4_K
blk.4.ffn_down_exps.weight IQ4_XS
blk.4.ffn_down_shexp.weight IQ4_XS
blk.4.ffn_gate_exps.weight IQ4_XS
blk.4.ffn_gate_inp.weight F32
blk.4.ffn_gate_inp_shexp.weight F32
blk.4.ffn_gate_shexp.weight IQ4_XS
blk.4.ffn_up_exps.weight IQ4_XS
blk.4.ffn_up_shexp.weight IQ4_XS
blk.4.post_attention_norm.weight F32
blk.4.ssm_a F32
blk.4.ssm_alpha.weight Q4_K
blk.4.ssm_beta.weight Q4_K
blk.4.ssm_conv1d.weight F32
blk.4.ssm_dt.bias F32
blk.4.ssm_norm.weight F32
blk.4.ssm_out.weight Q4_K
blk.5.attn_gate.weight Q4_K
blk.5.attn_norm.weight F32
blk.5.attn_qkv.weight Q4_K
blk.5.ffn_down_exps.weight Q3_K
blk.5.ffn_down_shexp.weight IQ4_XS
blk.5.ffn_gate_exps.weight Q3_K
blk.5.ffn_gate_inp.weight F32
blk.5.ffn_gate_inp_shexp.weight F32
blk.5.ffn_gate_shexp.weight IQ4_XS
blk.5.ffn_up_exps.weight Q3_K
blk.5.ffn_up_shexp.weight IQ4_XS
blk.5.post_attention_norm.weight F32
blk.5.ssm_a F32
blk.5.ssm_alpha.weight Q4_K
blk.5.ssm_beta.weight Q4_K
blk.5.ssm_conv1d.weight F32
blk.5.ssm_dt.bias F32
blk.5.ssm_norm.weight F32
blk.5.ssm_out.weight Q4_K
blk.6.attn_gate.weight Q4_K
blk.6.attn_norm.weight F32
blk.6.attn_qkv.weight Q4_K
blk.6.ffn_down_exps.weight IQ4_XS
blk.6.ffn_down_shexp.weight Q4_K
blk.6.ffn_gate_exps.weight Q3_K
blk.6.ffn_gate_inp.weight F32
blk.6.ffn_gate_inp_shexp.weight F32
blk.6.ffn_gate_shexp.weight IQ4_XS
blk.6.ffn_up_exps.weight Q3_K
blk.6.ffn_up_shexp.weight IQ4_XS
blk.6.post_attention_norm.weight F32
blk.6.ssm_a F32
blk.6.ssm_alpha.weight Q4_K
blk.6.ssm_beta.weight Q4_K
blk.6.ssm_conv1d.weight F32
blk.6.ssm_dt.bias F32
blk.6.ssm_norm.weight F32
blk.6.ssm_out.weight Q4_K
blk.7.attn_k.weight Q4_K
blk.7.attn_k_norm.weight F32
blk.7.attn_norm.weight F32
blk.7.attn_output.weight Q4_K
blk.7.attn_q.weight Q4_K
blk.7.attn_q_norm.weight F32
blk.7.attn_v.weight Q4_K
blk.7.ffn_down_exps.weight IQ4_XS
blk.7.ffn_down_shexp.weight Q4_K
blk.7.ffn_gate_exps.weight IQ4_XS
blk.7.ffn_gate_inp.weight F32
blk.7.ffn_gate_inp_shexp.weight F32
blk.7.ffn_gate_shexp.weight IQ4_XS
blk.7.ffn_up_exps.weight IQ4_XS
blk.7.ffn_up_shexp.weight IQ4_XS
blk.7.post_attention_norm.weight F32
blk.8.attn_gate.weight Q4_K
blk.8.attn_norm.weight F32
blk.8.attn_qkv.weight Q4_K
blk.8.ffn_down_exps.weight IQ4_XS
blk.8.ffn_down_shexp.weight Q4_K
blk.8.ffn_gate_exps.weight IQ4_XS
blk.8.ffn_gate_inp.weight F32
blk.8.ffn_gate_inp_shexp.weight F32
blk.8.ffn_gate_shexp.weight IQ4_XS
blk.8.ffn_up_exps.weight IQ4_XS
blk.8.ffn_up_shexp.weight IQ4_XS
blk.8.post_attention_norm.weight F32
blk.8.ssm_a F32
blk.8.ssm_alpha.weight Q4_K
blk.8.ssm_beta.weight Q4_K
blk.8.ssm_conv1d.weight F32
blk.8.ssm_dt.bias F32
blk.8.ssm_norm.weight F32
blk.8.ssm_out.weight Q4_K
blk.9.attn_gate.weight Q4_K
blk.9.attn_norm.weight F32
blk.9.attn_qkv.weight Q4_K
blk.9.ffn_down_exps.weight Q3_K
blk.9.ffn_down_shexp.weight Q4_K
blk.9.ffn_gate_exps.weight Q3_K
blk.9.ffn_gate_inp.weight F32
blk.9.ffn_gate_inp_shexp.weight F32
blk.9.ffn_gate_shexp.weight Q4_K
blk.9.ffn_up_exps.weight Q3_K
blk.9.ffn_up_shexp.weight Q4_K
blk.9.post_attention_norm.weight F32
blk.9.ssm_a F32
blk.9.ssm_alpha.weight Q4_K
blk.9.ssm_beta.weight Q4_K
blk.9.ssm_conv1d.weight F32
blk.9.ssm_dt.bias F32
blk.9.ssm_norm.weight F32
blk.9.ssm_out.weight Q4_K
blk.10.attn_gate.weight Q4_K
blk.10.attn_norm.weight F32
blk.10.attn_qkv.weight Q4_K
blk.10.ffn_down_exps.weight Q3_K
blk.10.ffn_down_shexp.weight Q4_K
blk.10.ffn_gate_exps.weight IQ4_XS
blk.10.ffn_gate_inp.weight F32
blk.10.ffn_gate_inp_shexp.weight F32
blk.10.ffn_gate_shexp.weight IQ4_XS
blk.10.ffn_up_exps.weight IQ4_XS
blk.10.ffn_up_shexp.weight IQ4_XS
blk.10.post_attention_norm.weight F32
blk.10.ssm_a F32
blk.10.ssm_alpha.weight Q4_K
blk.10.ssm_beta.weight Q4_K
blk.10.ssm_conv1d.weight F32
blk.10.ssm_dt.bias F32
blk.10.ssm_norm.weight F32
blk.10.ssm_out.weight Q4_K
blk.11.attn_k.weight Q4_K
blk.11.attn_k_norm.weight F32
blk.11.attn_norm.weight F32
blk.11.attn_output.weight Q4_K
blk.11.attn_q.weight Q4_K
blk.11.attn_q_norm.weight F32
blk.11.attn_v.weight Q4_K
blk.11.ffn_down_exps.weight IQ4_XS
blk.11.ffn_down_shexp.weight IQ4_XS
blk.11.ffn_gate_exps.weight IQ4_XS
blk.11.ffn_gate_inp.weight F32
blk.11.ffn_gate_inp_shexp.weight F32
blk.11.ffn_gate_shexp.weight IQ4_XS
blk.11.ffn_up_exps.weight IQ4_XS
blk.11.ffn_up_shexp.weight IQ4_XS
blk.11.post_attention_norm.weight F32
blk.12.attn_gate.weight Q4_K
blk.12.attn_norm.weight F32
blk.12.attn_qkv.weight Q4_K
blk.12.ffn_down_exps.weight IQ4_XS
blk.12.ffn_down_shexp.weight Q4_K
blk.12.ffn_gate_exps.weight IQ4_XS
blk.12.ffn_gate_inp.weight F32
blk.12.ffn_gate_inp_shexp.weight F32
blk.12.ffn_gate_shexp.weight IQ4_XS
blk.12.ffn_up_exps.weight IQ4_XS
blk.12.ffn_up_shexp.weight IQ4_XS
blk.12.post_attention_norm.weight F32
blk.12.ssm_a F32
blk.12.ssm_alpha.weight Q4_K
blk.12.ssm_beta.weight Q4_K
blk.12.ssm_conv1d.weight F32
blk.12.ssm_dt.bias F32
blk.12.ssm_norm.weight F32
blk.12.ssm_out.weight Q4_K
blk.13.attn_gate.weight Q4_K
blk.13.attn_norm.weight F32
blk.13.attn_qkv.weight Q4_K
blk.13.ffn_down_exps.weight Q3_K
blk.13.ffn_down_shexp.weight IQ4_XS
blk.13.ffn_gate_exps.weight IQ4_XS
blk.13.ffn_gate_inp.weight F32
blk.13.ffn_gate_inp_shexp.weight F32
blk.13.ffn_gate_shexp.weight Q4_K
blk.13.ffn_up_exps.weight IQ4_XS
blk.13.ffn_up_shexp.weight Q4_K
blk.13.post_attention_norm.weight F32
blk.13.ssm_a F32
blk.13.ssm_alpha.weight Q4_K
blk.13.ssm_beta.weight Q4_K
blk.13.ssm_conv1d.weight F32
blk.13.ssm_dt.bias F32
blk.13.ssm_norm.weight F32
blk.13.ssm_out.weight Q4_K
blk.14.attn_gate.weight Q4_K
blk.14.attn_norm.weight F32
blk.14.attn_qkv.weight Q4_K
blk.14.ffn_down_exps.weight IQ4_XS
blk.14.ffn_down_shexp.weight IQ4_XS
blk.14.ffn_gate_exps.weight IQ4_XS
blk.14.ffn_gate_inp.weight F32
blk.14.ffn_gate_inp_shexp.weight F32
blk.14.ffn_gate_shexp.weight IQ4_XS
blk.14.ffn_up_exps.weight IQ4_XS
blk.14.ffn_up_shexp.weight IQ4_XS
blk.14.post_attention_norm.weight F32
blk.14.ssm_a F32
blk.14.ssm_alpha.weight Q4_K
blk.14.ssm_beta.weight Q4_K
blk.14.ssm_conv1d.weight F32
blk.14.ssm_dt.bias F32
blk.14.ssm_norm.weight F32
blk.14.ssm_out.weight Q4_K
blk.15.attn_k.weight Q4_K
blk.15.attn_k_norm.weight F32
blk.15.attn_norm.weight F32
blk.15.attn_output.weight Q4_K
blk.15.attn_q.weight Q4_K
blk.15.attn_q_norm.weight F32
blk.15.attn_v.weight Q4_K
blk.15.ffn_down_exps.weight IQ4_XS
blk.15.ffn_down_shexp.weight Q4_K
blk.15.ffn_gate_exps.weight IQ4_XS
blk.15.ffn_gate_inp.weight F32
blk.15.ffn_gate_inp_shexp.weight F32
blk.15.ffn_gate_shexp.weight IQ4_XS
blk.15.ffn_up_exps.weight IQ4_XS
blk.15.ffn_up_shexp.weight IQ4_XS
blk.15.post_attention_norm.weight F32
blk.16.attn_gate.weight Q4_K
blk.16.attn_norm.weight F32
blk.16.attn_qkv.weight Q4_K
blk.16.ffn_down_exps.weight Q3_K
blk.16.ffn_down_shexp.weight IQ4_XS
blk.16.ffn_gate_exps.weight Q3_K
blk.16.ffn_gate_inp.weight F32
blk.16.ffn_gate_inp_shexp.weight F32
blk.16.ffn_gate_shexp.weight IQ4_XS
blk.16.ffn_up_exps.weight Q3_K
blk.16.ffn_up_shexp.weight IQ4_XS
blk.16.post_attention_norm.weight F32
blk.16.ssm_a F32
blk.16.ssm_alpha.weight Q4_K
blk.16.ssm_beta.weight Q4_K
blk.16.ssm_conv1d.weight F32
blk.16.ssm_dt.bias F32
blk.16.ssm_norm.weight F32
blk.16.ssm_out.weight Q4_K
blk.17.attn_gate.weight Q4_K
blk.17.attn_norm.weight F32
blk.17.attn_qkv.weight Q4_K
blk.17.ffn_down_exps.weight IQ4_XS
blk.17.ffn_down_shexp.weight IQ4_XS
blk.17.ffn_gate_exps.weight Q3_K
blk.17.ffn_gate_inp.weight F32
blk.17.ffn_gate_inp_shexp.weight F32
blk.17.ffn_gate_shexp.weight Q4_K
blk.17.ffn_up_exps.weight Q3_K
blk.17.ffn_up_shexp.weight Q4_K
blk.17.post_attention_norm.weight F32
blk.17.ssm_a F32
blk.17.ssm_alpha.weight Q4_K
blk.17.ssm_beta.weight Q4_K
blk.17.ssm_conv1d.weight F32
blk.17.ssm_dt.bias F32
blk.17.ssm_norm.weight F32
blk.17.ssm_out.weight Q4_K
blk.18.attn_gate.weight Q4_K
blk.18.attn_norm.weight F32
blk.18.attn_qkv.weight Q4_K
blk.18.ffn_down_exps.weight Q3_K
blk.18.ffn_down_shexp.weight IQ4_XS
blk.18.ffn_gate_exps.weight IQ4_XS
blk.18.ffn_gate_inp.weight F32
blk.18.ffn_gate_inp_shexp.weight F32
blk.18.ffn_gate_shexp.weight Q4_K
blk.18.ffn_up_exps.weight IQ4_XS
blk.18.ffn_up_shexp.weight Q4_K
blk.18.post_attention_norm.weight F32
blk.18.ssm_a F32
blk.18.ssm_alpha.weight Q4_K
blk.18.ssm_beta.weight Q4_K
blk.18.ssm_conv1d.weight F32
blk.18.ssm_dt.bias F32
blk.18.ssm_norm.weight F32
blk.18.ssm_out.weight Q4_K
blk.19.attn_k.weight Q4_K
blk.19.attn_k_norm.weight F32
blk.19.attn_norm.weight F32
blk.19.attn_output.weight Q4_K
blk.19.attn_q.weight Q4_K
blk.19.attn_q_norm.weight F32
blk.19.attn_v.weight Q4_K
blk.19.ffn_down_exps.weight IQ4_XS
blk.19.ffn_down_shexp.weight IQ4_XS
blk.19.ffn_gate_exps.weight IQ4_XS
blk.19.ffn_gate_inp.weight F32
blk.19.ffn_gate_inp_shexp.weight F32
blk.19.ffn_gate_shexp.weight Q4_K
blk.19.ffn_up_exps.weight IQ4_XS
blk.19.ffn_up_shexp.weight Q4_K
blk.19.post_attention_norm.weight F32
blk.20.attn_gate.weight Q4_K
blk.20.attn_norm.weight F32
blk.20.attn_qkv.weight Q4_K
blk.20.ffn_down_exps.weight IQ4_XS
blk.20.ffn_down_shexp.weight IQ4_XS
blk.20.ffn_gate_exps.weight IQ4_XS
blk.20.ffn_gate_inp.weight F32
blk.20.ffn_gate_inp_shexp.weight F32
blk.20.ffn_gate_shexp.weight IQ4_XS
blk.20.ffn_up_exps.weight IQ4_XS
blk.20.ffn_up_shexp.weight IQ4_XS
blk.20.post_attention_norm.weight F32
blk.20.ssm_a F32
blk.20.ssm_alpha.weight Q4_K
blk.20.ssm_beta.weight Q4_K
blk.20.ssm_conv1d.weight F32
blk.20.ssm_dt.bias F32
blk.20.ssm_norm.weight F32
blk.20.ssm_out.weight Q4_K
blk.21.attn_gate.weight Q4_K
blk.21.attn_norm.weight F32
blk.21.attn_qkv.weight Q4_K
blk.21.ffn_down_exps.weight IQ4_XS
blk.21.ffn_down_shexp.weight IQ4_XS
blk.21.ffn_gate_exps.weight Q3_K
blk.21.ffn_gate_inp.weight F32
blk.21.ffn_gate_inp_shexp.weight F32
blk.21.ffn_gate_shexp.weight Q4_K
blk.21.ffn_up_exps.weight Q3_K
blk.21.ffn_up_shexp.weight Q4_K
blk.21.post_attention_norm.weight F32
blk.21.ssm_a F32
blk.21.ssm_alpha.weight Q4_K
blk.21.ssm_beta.weight Q4_K
blk.21.ssm_conv1d.weight F32
blk.21.ssm_dt.bias F32
blk.21.ssm_norm.weight F32
blk.21.ssm_out.weight Q4_K
blk.22.attn_gate.weight Q4_K
blk.22.attn_norm.weight F32
blk.22.attn_qkv.weight Q4_K
blk.22.ffn_down_exps.weight Q3_K
blk.22.ffn_down_shexp.weight Q4_K
blk.22.ffn_gate_exps.weight IQ4_XS
blk.22.ffn_gate_inp.weight F32
blk.22.ffn_gate_inp_shexp.weight F32
blk.22.ffn_gate_shexp.weight Q4_K
blk.22.ffn_up_exps.weight IQ4_XS
blk.22.ffn_up_shexp.weight Q4_K
blk.22.post_attention_norm.weight F32
blk.22.ssm_a F32
blk.22.ssm_alpha.weight Q4_K
blk.22.ssm_beta.weight Q4_K
blk.22.ssm_conv1d.weight F32
blk.22.ssm_dt.bias F32
blk.22.ssm_norm.weight F32
blk.22.ssm_out.weight Q4_K
blk.23.attn_k.weight Q4_K
blk.23.attn_k_norm.weight F32
blk.23.attn_norm.weight F32
blk.23.attn_output.weight Q4_K
blk.23.attn_q.weight Q4_K
blk.23.attn_q_norm.weight F32
blk.23.attn_v.weight Q4_K
blk.23.ffn_down_exps.weight IQ4_XS
blk.23.ffn_down_shexp.weight Q4_K
blk.23.ffn_gate_exps.weight Q3_K
blk.23.ffn_gate_inp.weight F32
blk.23.ffn_gate_inp_shexp.weight F32
blk.23.ffn_gate_shexp.weight IQ4_XS
blk.23.ffn_up_exps.weight Q3_K
blk.23.ffn_up_shexp.weight IQ4_XS
blk.23.post_attention_norm.weight F32
blk.24.attn_gate.weight Q4_K
blk.24.attn_norm.weight F32
blk.24.attn_qkv.weight Q4_K
blk.24.ffn_down_exps.weight IQ4_XS
blk.24.ffn_down_shexp.weight Q4_K
blk.24.ffn_gate_exps.weight IQ4_XS
blk.24.ffn_gate_inp.weight F32
blk.24.ffn_gate_inp_shexp.weight F32
blk.24.ffn_gate_shexp.weight Q4_K
blk.24.ffn_up_exps.weight IQ4_XS
blk.24.ffn_up_shexp.weight Q4_K
blk.24.post_attention_norm.weight F32
blk.24.ssm_a F32
blk.24.ssm_alpha.weight Q4_K
blk.24.ssm_beta.weight Q4_K
blk.24.ssm_conv1d.weight F32
blk.24.ssm_dt.bias F32
blk.24.ssm_norm.weight F32
blk.24.ssm_out.weight Q4_K
blk.25.attn_gate.weight Q4_K
blk.25.attn_norm.weight F32
blk.25.attn_qkv.weight Q4_K
blk.25.ffn_down_exps.weight IQ4_XS
blk.25.ffn_down_shexp.weight IQ4_XS
blk.25.ffn_gate_exps.weight Q3_K
blk.25.ffn_gate_inp.weight F32
blk.25.ffn_gate_inp_shexp.weight F32
blk.25.ffn_gate_shexp.weight IQ4_XS
blk.25.ffn_up_exps.weight Q3_K
blk.25.ffn_up_shexp.weight IQ4_XS
blk.25.post_attention_norm.weight F32
blk.25.ssm_a F32
blk.25.ssm_alpha.weight Q4_K
blk.25.ssm_beta.weight Q4_K
blk.25.ssm_conv1d.weight F32
blk.25.ssm_dt.bias F32
blk.25.ssm_norm.weight F32
blk.25.ssm_out.weight Q4_K
blk.26.attn_gate.weight Q4_K
blk.26.attn_norm.weight F32
blk.26.attn_qkv.weight Q4_K
blk.26.ffn_down_exps.weight Q3_K
blk.26.ffn_down_shexp.weight IQ4_XS
blk.26.ffn_gate_exps.weight Q3_K
blk.26.ffn_gate_inp.weight F32
blk.26.ffn_gate_inp_shexp.weight F32
blk.26.ffn_gate_shexp.weight IQ4_XS
blk.26.ffn_up_exps.weight Q3_K
blk.26.ffn_up_shexp.weight IQ4_XS
blk.26.post_attention_norm.weight F32
blk.26.ssm_a F32
blk.26.ssm_alpha.weight Q4_K
blk.26.ssm_beta.weight Q4_K
blk.26.ssm_conv1d.weight F32
blk.26.ssm_dt.bias F32
blk.26.ssm_norm.weight F32
blk.26.ssm_out.weight Q4_K
blk.27.attn_k.weight Q4_K
blk.27.attn_k_norm.weight F32
blk.27.attn_norm.weight F32
blk.27.attn_output.weight Q4_K
blk.27.attn_q.weight Q4_K
blk.27.attn_q_norm.weight F32
blk.27.attn_v.weight Q4_K
blk.27.ffn_down_exps.weight Q3_K
blk.27.ffn_down_shexp.weight IQ4_XS
blk.27.ffn_gate_exps.weight IQ4_XS
blk.27.ffn_gate_inp.weight F32
blk.27.ffn_gate_inp_shexp.weight F32
blk.27.ffn_gate_shexp.weight Q4_K
blk.27.ffn_up_exps.weight IQ4_XS
blk.27.ffn_up_shexp.weight Q4_K
blk.27.post_attention_norm.weight F32
blk.28.attn_gate.weight Q4_K
blk.28.attn_norm.weight F32
blk.28.attn_qkv.weight Q4_K
blk.28.ffn_down_exps.weight IQ4_XS
blk.28.ffn_down_shexp.weight IQ4_XS
blk.28.ffn_gate_exps.weight IQ4_XS
blk.28.ffn_gate_inp.weight F32
blk.28.ffn_gate_inp_shexp.weight F32
blk.28.ffn_gate_shexp.weight IQ4_XS
blk.28.ffn_up_exps.weight IQ4_XS
blk.28.ffn_up_shexp.weight IQ4_XS
blk.28.post_attention_norm.weight F32
blk.28.ssm_a F32
blk.28.ssm_alpha.weight Q4_K
blk.28.ssm_beta.weight Q4_K
blk.28.ssm_conv1d.weight F32
blk.28.ssm_dt.bias F32
blk.28.ssm_norm.weight F32
blk.28.ssm_out.weight Q4_K
blk.29.attn_gate.weight Q4_K
blk.29.attn_norm.weight F32
blk.29.attn_qkv.weight Q4_K
blk.29.ffn_down_exps.weight Q3_K
blk.29.ffn_down_shexp.weight Q4_K
blk.29.ffn_gate_exps.weight Q3_K
blk.29.ffn_gate_inp.weight F32
blk.29.ffn_gate_inp_shexp.weight F32
blk.29.ffn_gate_shexp.weight IQ4_XS
blk.29.ffn_up_exps.weight Q3_K
blk.29.ffn_up_shexp.weight IQ4_XS
blk.29.post_attention_norm.weight F32
blk.29.ssm_a F32
blk.29.ssm_alpha.weight Q4_K
blk.29.ssm_beta.weight Q4_K
blk.29.ssm_conv1d.weight F32
blk.29.ssm_dt.bias F32
blk.29.ssm_norm.weight F32
blk.29.ssm_out.weight Q4_K
blk.30.attn_gate.weight Q4_K
blk.30.attn_norm.weight F32
blk.30.attn_qkv.weight Q4_K
blk.30.ffn_down_exps.weight IQ4_XS
blk.30.ffn_down_shexp.weight IQ4_XS
blk.30.ffn_gate_exps.weight IQ4_XS
blk.30.ffn_gate_inp.weight F32
blk.30.ffn_gate_inp_shexp.weight F32
blk.30.ffn_gate_shexp.weight IQ4_XS
blk.30.ffn_up_exps.weight IQ4_XS
blk.30.ffn_up_shexp.weight IQ4_XS
blk.30.post_attention_norm.weight F32
blk.30.ssm_a F32
blk.30.ssm_alpha.weight Q4_K
blk.30.ssm_beta.weight Q4_K
blk.30.ssm_conv1d.weight F32
blk.30.ssm_dt.bias F32
blk.30.ssm_norm.weight F32
blk.30.ssm_out.weight Q4_K
blk.31.attn_k.weight Q4_K
blk.31.attn_k_norm.weight F32
blk.31.attn_norm.weight F32
blk.31.attn_output.weight Q4_K
blk.31.attn_q.weight Q4_K
blk.31.attn_q_norm.weight F32
blk.31.attn_v.weight Q4_K
blk.31.ffn_down_exps.weight IQ4_XS
blk.31.ffn_down_shexp.weight Q4_K
blk.31.ffn_gate_exps.weight IQ4_XS
blk.31.ffn_gate_inp.weight F32
blk.31.ffn_gate_inp_shexp.weight F32
blk.31.ffn_gate_shexp.weight Q4_K
blk.31.ffn_up_exps.weight IQ4_XS
blk.31.ffn_up_shexp.weight Q4_K
blk.31.post_attention_norm.weight F32
blk.32.attn_gate.weight Q4_K
blk.32.attn_norm.weight F32
blk.32.attn_qkv.weight Q4_K
blk.32.ffn_down_exps.weight IQ4_XS
blk.32.ffn_down_shexp.weight IQ4_XS
blk.32.ffn_gate_exps.weight IQ4_XS
blk.32.ffn_gate_inp.weight F32
blk.32.ffn_gate_inp_shexp.weight F32
blk.32.ffn_gate_shexp.weight Q4_K
blk.32.ffn_up_exps.weight IQ4_XS
blk.32.ffn_up_shexp.weight Q4_K
blk.32.post_attention_norm.weight F32
blk.32.ssm_a F32
blk.32.ssm_alpha.weight Q4_K
blk.32.ssm_beta.weight Q4_K
blk.32.ssm_conv1d.weight F32
blk.32.ssm_dt.bias F32
blk.32.ssm_norm.weight F32
blk.32.ssm_out.weight Q4_K
blk.33.attn_gate.weight Q4_K
blk.33.attn_norm.weight F32
blk.33.attn_qkv.weight Q4_K
blk.33.ffn_down_exps.weight IQ4_XS
blk.33.ffn_down_shexp.weight IQ4_XS
blk.33.ffn_gate_exps.weight IQ4_XS
blk.33.ffn_gate_inp.weight F32
blk.33.ffn_gate_inp_shexp.weight F32
blk.33.ffn_gate_shexp.weight Q4_K
blk.33.ffn_up_exps.weight IQ4_XS
blk.33.ffn_up_shexp.weight Q4_K
blk.33.post_attention_norm.weight F32
blk.33.ssm_a F32
blk.33.ssm_alpha.weight Q4_K
blk.33.ssm_beta.weight Q4_K
blk.33.ssm_conv1d.weight F32
blk.33.ssm_dt.bias F32
blk.33.ssm_norm.weight F32
blk.33.ssm_out.weight Q4_K
blk.34.attn_gate.weight Q4_K
blk.34.attn_norm.weight F32
blk.34.attn_qkv.weight Q4_K
blk.34.ffn_down_exps.weight IQ4_XS
blk.34.ffn_down_shexp.weight IQ4_XS
blk.34.ffn_gate_exps.weight IQ4_XS
blk.34.ffn_gate_inp.weight F32
blk.34.ffn_gate_inp_shexp.weight F32
blk.34.ffn_gate_shexp.weight IQ4_XS
blk.34.ffn_up_exps.weight IQ4_XS
blk.34.ffn_up_shexp.weight IQ4_XS
blk.34.post_attention_norm.weight F32
blk.34.ssm_a F32
blk.34.ssm_alpha.weight Q4_K
blk.34.ssm_beta.weight Q4_K
blk.34.ssm_conv1d.weight F32
blk.34.ssm_dt.bias F32
blk.34.ssm_norm.weight F32
blk.34.ssm_out.weight Q4_K
blk.35.attn_k.weight Q4_K
blk.35.attn_k_norm.weight F32
blk.35.attn_norm.weight F32
blk.35.attn_output.weight Q4_K
blk.35.attn_q.weight Q4_K
blk.35.attn_q_norm.weight F32
blk.35.attn_v.weight Q4_K
blk.35.ffn_down_exps.weight IQ4_XS
blk.35.ffn_down_shexp.weight Q4_K
blk.35.ffn_gate_exps.weight IQ4_XS
blk.35.ffn_gate_inp.weight F32
blk.35.ffn_gate_inp_shexp.weight F32
blk.35.ffn_gate_shexp.weight IQ4_XS
blk.35.ffn_up_exps.weight IQ4_XS
blk.35.ffn_up_shexp.weight IQ4_XS
blk.35.post_attention_norm.weight F32
blk.36.attn_gate.weight Q4_K
blk.36.attn_norm.weight F32
blk.36.attn_qkv.weight Q4_K
blk.36.ffn_down_exps.weight IQ4_XS
blk.36.ffn_down_shexp.weight IQ4_XS
blk.36.ffn_gate_exps.weight IQ4_XS
blk.36.ffn_gate_inp.weight F32
blk.36.ffn_gate_inp_shexp.weight F32
blk.36.ffn_gate_shexp.weight IQ4_XS
blk.36.ffn_up_exps.weight IQ4_XS
blk.36.ffn_up_shexp.weight IQ4_XS
blk.36.post_attention_norm.weight F32
blk.36.ssm_a F32
blk.36.ssm_alpha.weight Q4_K
blk.36.ssm_beta.weight Q4_K
blk.36.ssm_conv1d.weight F32
blk.36.ssm_dt.bias F32
blk.36.ssm_norm.weight F32
blk.36.ssm_out.weight Q4_K
blk.37.attn_gate.weight Q4_K
blk.37.attn_norm.weight F32
blk.37.attn_qkv.weight Q4_K
blk.37.ffn_down_exps.weight IQ4_XS
blk.37.ffn_down_shexp.weight IQ4_XS
blk.37.ffn_gate_exps.weight Q3_K
blk.37.ffn_gate_inp.weight F32
blk.37.ffn_gate_inp_shexp.weight F32
blk.37.ffn_gate_shexp.weight IQ4_XS
blk.37.ffn_up_exps.weight Q3_K
blk.37.ffn_up_shexp.weight IQ4_XS
blk.37.post_attention_norm.weight F32
blk.37.ssm_a F32
blk.37.ssm_alpha.weight Q4_K
blk.37.ssm_beta.weight Q4_K
blk.37.ssm_conv1d.weight F32
blk.37.ssm_dt.bias F32
blk.37.ssm_norm.weight F32
blk.37.ssm_out.weight Q4_K
blk.38.attn_gate.weight Q4_K
blk.38.attn_norm.weight F32
blk.38.attn_qkv.weight Q4_K
blk.38.ffn_down_exps.weight IQ4_XS
blk.38.ffn_down_shexp.weight Q4_K
blk.38.ffn_gate_exps.weight IQ4_XS
blk.38.ffn_gate_inp.weight F32
blk.38.ffn_gate_inp_shexp.weight F32
blk.38.ffn_gate_shexp.weight Q4_K
blk.38.ffn_up_exps.weight IQ4_XS
blk.38.ffn_up_shexp.weight Q4_K
blk.38.post_attention_norm.weight F32
blk.38.ssm_a F32
blk.38.ssm_alpha.weight Q4_K
blk.38.ssm_beta.weight Q4_K
blk.38.ssm_conv1d.weight F32
blk.38.ssm_dt.bias F32
blk.38.ssm_norm.weight F32
blk.38.ssm_out.weight Q4_K
blk.39.attn_k.weight Q4_K
blk.39.attn_k_norm.weight F32
blk.39.attn_norm.weight F32
blk.39.attn_output.weight Q4_K
blk.39.attn_q.weight Q4_K
blk.39.attn_q_norm.weight F32
blk.39.attn_v.weight Q4_K
blk.39.ffn_down_exps.weight Q4_K
blk.39.ffn_down_shexp.weight Q4_K
blk.39.ffn_gate_exps.weight IQ4_XS
blk.39.ffn_gate_inp.weight F32
blk.39.ffn_gate_inp_shexp.weight F32
blk.39.ffn_gate_shexp.weight Q4_K
blk.39.ffn_up_exps.weight IQ4_XS
blk.39.ffn_up_shexp.weight Q4_K
blk.39.post_attention_norm.weight F32
blk.40.attn_k.weight Q4_K
blk.40.attn_k_norm.weight F32
blk.40.attn_norm.weight F32
blk.40.attn_output.weight Q4_K
blk.40.attn_q.weight Q4_K
blk.40.attn_q_norm.weight F32
blk.40.attn_v.weight Q4_K
blk.40.ffn_down_exps.weight Q4_K
blk.40.ffn_down_shexp.weight Q4_K
blk.40.ffn_gate_exps.weight Q4_K
blk.40.ffn_gate_inp.weight F32
blk.40.ffn_gate_inp_shexp.weight F32
blk.40.ffn_gate_shexp.weight Q4_K
blk.40.ffn_up_exps.weight Q4_K
blk.40.ffn_up_shexp.weight Q4_K
blk.40.nextn.eh_proj.weight Q4_K
blk.40.nextn.enorm.weight F32
blk.40.nextn.hnorm.weight F32
blk.40.nextn.shared_head_norm.weight F32
blk.40.post_attention_norm.weight F32
RECIPEC_PLAN_TYPES
}

# --- settings ------------------------------------------------------------------------------------
# The kit's directory, exact even when its name ends in a newline: $(...) drops trailing newlines,
# so no $(dirname ...), and pwd's output is kept by the x after it.
HERE=${BASH_SOURCE[0]%/*}
[[ $HERE != "${BASH_SOURCE[0]}" ]] || HERE=.
HERE=$(CDPATH='' cd -- "${HERE:-/}" && pwd && echo x)
HERE=${HERE%?x}
LLAMA_QUANTIZE=${LLAMA_QUANTIZE:-llama-quantize}
# Defaults are beside this script: the source model by the name the plan records (none when it
# records none), and the imatrix the plan was made from (none when compile was given a summary).
DEFAULT_MODEL=
DEFAULT_IMATRIX=
DEFAULT_OUT="$HERE"/'qwen35moe-ashq1-17gib-IQ4_XS.gguf'
MODEL=${MODEL:-$DEFAULT_MODEL}
IMATRIX_GIVEN=${IMATRIX+1}
IMATRIX=${IMATRIX-$DEFAULT_IMATRIX}
OUT=${OUT:-$DEFAULT_OUT}
THREADS=${THREADS:-$(nproc 2>/dev/null || echo 4)}
RECIPEC=${RECIPEC:-recipec}
TYPES_FILE="$HERE/tensor-types.txt"
PLAN_FILE="$HERE/plan.lock.json"
FORCE=0
VERIFY_INPUTS=1
KEEP_SPLIT=0
GATE_ONLY=0

usage() {
    cat <<'EOF'
usage: quantize.sh [options]
  --llama-quantize PATH   the llama-quantize binary (env LLAMA_QUANTIZE)
  --model PATH            the source GGUF, first shard of a split model (env MODEL;
                          default: none: the plan records no file name)
  --imatrix PATH          the importance matrix, '' for none (env IMATRIX; default: none: the plan
                          was made from an imatrix summary; give the imatrix it summarises)
  --out PATH              the output GGUF (env OUT)
  --threads N             threads for llama-quantize (env THREADS)
  --force                 replace an existing OUT
  --no-verify-inputs      skip the header sha256 check of the inputs
  --keep-split            write one output shard per input shard
  --dry-run               run the preflight and the dry-run gate only
  -h, --help              this text
EOF
}

# Every message goes through say: a control character in a name or path (a terminal escape,
# a newline) is shown as ?, never sent to the terminal.
say() {
    local msg="quantize.sh: $*"
    printf '%s\n' "${msg//[[:cntrl:]]/?}" >&2
}

die() {
    say "$@"
    exit 1
}

# Lines of llama-quantize's output (tensor names of the file it read), controls shown as ?.
shown_lines() {
    local line
    while IFS= read -r line || [[ -n $line ]]; do
        printf '%s\n' "${line//[[:cntrl:]]/?}"
    done
}

need_value() {
    [[ $# -ge 2 ]] || die "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --llama-quantize) need_value "$@"; LLAMA_QUANTIZE=$2; shift 2 ;;
        --model) need_value "$@"; MODEL=$2; shift 2 ;;
        --imatrix) need_value "$@"; IMATRIX=$2; IMATRIX_GIVEN=1; shift 2 ;;
        --out) need_value "$@"; OUT=$2; shift 2 ;;
        --threads) need_value "$@"; THREADS=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        --no-verify-inputs) VERIFY_INPUTS=0; shift ;;
        --keep-split) KEEP_SPLIT=1; shift ;;
        --dry-run) GATE_ONLY=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

# A path llama-quantize could read as an option (leading -) gets a ./ in front.
as_arg() {
    case $1 in
        -*) printf './%s' "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}

sha256_stdin() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 | cut -d ' ' -f 1
    else
        openssl dgst -sha256 -r | cut -d ' ' -f 1
    fi
}

# shard_path FIRST INDEX COUNT: the path of shard INDEX (1-based) of a split model.
shard_path() {
    local first=$1 num count
    printf -v num '%05d' "$2"
    printf -v count '%05d' "$3"
    printf '%s' "${first%-00001-of-*.gguf}-$num-of-$count.gguf"
}

# --- preflight -----------------------------------------------------------------------------------
[[ $THREADS =~ ^[0-9]+$ ]] || die "THREADS must be a number, got: $THREADS"
[[ $OUT == *.gguf ]] || die "the output must end in .gguf (llama-quantize could read it as a type): $OUT"
if ! command -v -- "$LLAMA_QUANTIZE" >/dev/null 2>&1; then
    die "llama-quantize not found: $LLAMA_QUANTIZE (set LLAMA_QUANTIZE or --llama-quantize)"
fi
help_text=$("$LLAMA_QUANTIZE" --help 2>&1 || true)
for flag in --tensor-type-file --dry-run; do
    [[ $help_text == *"$flag"* ]] || die "$LLAMA_QUANTIZE does not support $flag; build a newer llama.cpp"
done
[[ -f $TYPES_FILE ]] || die "missing $TYPES_FILE (keep the kit's files together)"
[[ -n $MODEL ]] || die "no model: the plan records no source file name; give the source GGUF with --model PATH (or MODEL)"
[[ -f $MODEL ]] || die "model not found: $MODEL (set MODEL or --model)"
if [[ -z $IMATRIX && $PLAN_USED_IMATRIX -eq 1 && -z ${IMATRIX_GIVEN:-} ]]; then
    die "the plan was made with an imatrix whose file it does not record (compile was given a summary); give it with --imatrix PATH (or IMATRIX), or --imatrix '' to quantize without one"
fi
if [[ -n $IMATRIX ]]; then
    [[ -f $IMATRIX ]] || die "imatrix not found: $IMATRIX (set IMATRIX or --imatrix, '' for none)"
    [[ $IMATRIX != *.json ]] || die "$IMATRIX is an imatrix summary; give the imatrix GGUF or .dat"
fi

shard_count=${#SHARD_HEADER_BYTES[@]}
INPUTS=("$MODEL")
if [[ $shard_count -gt 1 ]]; then
    [[ $MODEL == *-00001-of-*.gguf ]] || die "the plan's model has $shard_count shards; give the first (-00001-of-…)"
    for ((i = 2; i <= shard_count; i++)); do
        INPUTS+=("$(shard_path "$MODEL" "$i" "$shard_count")")
    done
fi
for f in ${INPUTS[@]+"${INPUTS[@]}"}; do
    [[ -f $f ]] || die "model shard not found: $f"
done

if [[ $VERIFY_INPUTS -eq 1 ]]; then
    if [[ $shard_count -eq 0 ]]; then
        echo "quantize.sh: the plan records no model header hash; input not checked" >&2
    fi
    for ((i = 0; i < shard_count; i++)); do
        got=$(head -c "${SHARD_HEADER_BYTES[i]}" -- "${INPUTS[i]}" | sha256_stdin)
        [[ $got == "${SHARD_HEADER_SHA256[i]}" ]] ||
            die "${INPUTS[i]}: header sha256 $got is not the plan's ${SHARD_HEADER_SHA256[i]} (another model? --no-verify-inputs to skip)"
    done
    if [[ -n $IMATRIX && -n $IMATRIX_SHA256 ]]; then
        got=$(sha256_stdin <"$IMATRIX")
        [[ $got == "$IMATRIX_SHA256" ]] ||
            die "$IMATRIX: sha256 $got is not the plan's $IMATRIX_SHA256 (--no-verify-inputs to skip)"
    fi
fi

if [[ $KEEP_SPLIT -eq 1 && $SPLIT_INPUT -eq 1 ]]; then
    OUT_STEM=${OUT%.gguf}
    PARTIAL="$OUT_STEM.partial.gguf"
    OUTPUTS=() PARTIALS=()
    for ((i = 1; i <= shard_count; i++)); do
        OUTPUTS+=("$(shard_path "$OUT_STEM-00001-of-x.gguf" "$i" "$shard_count")")
        PARTIALS+=("$(shard_path "$OUT_STEM.partial-00001-of-x.gguf" "$i" "$shard_count")")
    done
else
    KEEP_SPLIT=0
    PARTIAL="$OUT.partial"
    OUTPUTS=("$OUT")
    PARTIALS=("$PARTIAL")
fi
for f in ${OUTPUTS[@]+"${OUTPUTS[@]}"}; do
    if [[ -e $f && $FORCE -ne 1 ]]; then
        die "$f exists; pass --force to replace it"
    fi
done
out_dir=${OUT%/*}  # not $(dirname ...), which drops a trailing newline of the name
[[ $out_dir != "$OUT" ]] || out_dir=.
out_dir=${out_dir:-/}
[[ -d $out_dir ]] || die "output directory not found: $out_dir"
avail_kib=$(df -Pk -- "$out_dir" | awk 'NR == 2 { print $4 }')
if [[ $avail_kib =~ ^[0-9]+$ ]] && ((avail_kib * 1024 < PREDICTED_BYTES)); then
    die "$out_dir has $((avail_kib / 1024)) MiB free; the output needs $((PREDICTED_BYTES / 1048576)) MiB"
fi

ARGS=(${OPTIONS[@]+"${OPTIONS[@]}"} --tensor-type-file "$(as_arg "$TYPES_FILE")")
if [[ -n $IMATRIX ]]; then
    ARGS+=(--imatrix "$(as_arg "$IMATRIX")")
fi
if [[ $KEEP_SPLIT -eq 1 ]]; then
    ARGS+=(--keep-split)
fi
ARGS+=(${PROVENANCE[@]+"${PROVENANCE[@]}"})
POSITIONAL=("$(as_arg "$MODEL")" "$(as_arg "$PARTIAL")" "$FTYPE" "$THREADS")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/recipec-quantize.XXXXXX")
QPID=
DONE=0
cleanup() {
    if [[ -n $QPID ]]; then
        kill "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
    fi
    if [[ $DONE -ne 1 ]]; then
        rm -f -- ${PARTIALS[@]+"${PARTIALS[@]}"}
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'echo "quantize.sh: interrupted; nothing written" >&2; exit 130' INT
trap 'echo "quantize.sh: terminated; nothing written" >&2; exit 143' TERM

# --- the dry-run gate ----------------------------------------------------------------------------
say "recipe $RECIPE_NAME, plan ${PLAN_SHA256:0:12}"
echo "quantize.sh: dry run: checking every tensor's type against the plan" >&2
if ! "$LLAMA_QUANTIZE" --dry-run ${ARGS[@]+"${ARGS[@]}"} ${POSITIONAL[@]+"${POSITIONAL[@]}"} >"$WORK/dry-run.log" 2>&1; then
    tail -n 20 "$WORK/dry-run.log" | shown_lines >&2
    die "llama-quantize --dry-run failed; nothing written"
fi
plan_types >"$WORK/plan.txt"
# The gate's awk program (templates/partials/dryrun_check.awk): one line per mismatch, exit 1 if any.
cat >"$WORK/dryrun_check.awk" <<'RECIPEC_DRYRUN_CHECK'
# dryrun_check.awk: llama-quantize --dry-run output against the plan's tensor types.
#
#     awk -v planfile=PLAN_TYPES -f dryrun_check.awk DRY_RUN_LOG
#
# PLAN_TYPES holds one `NAME TYPE` line per planned tensor (TYPE upper-case, as in the plan).
# Dry-run lines look like `[  84/  96] NAME - [ne0, ...], type =    f16, size = A MiB -> B MiB (q6_K)`:
# the type in parentheses is the one llama-quantize would write; a line without it keeps its
# source type. Every other line is ignored. Prints one line per mismatch (missing, other type,
# not in the plan) and exits 1 if there is any, or if nothing was compared; exits 0 otherwise.
#
# Included verbatim into quantize.sh. POSIX awk only (it runs under macOS awk, mawk, busybox and
# gawk): no gawk extensions, no regex intervals.
BEGIN {
    while ((getline line < planfile) > 0) {
        split(line, f, " ")
        want[f[1]] = f[2]
        order[++n] = f[1]
    }
}
/^\[ *[0-9]+\/ *[0-9]+\] / {
    s = $0
    sub(/^\[ *[0-9]+\/ *[0-9]+\] +/, "", s)
    name = s
    sub(/ .*/, "", name)
    t = s
    if (match(s, /\([A-Za-z0-9_]+\)[ \t\r]*$/)) {
        t = substr(s, RSTART + 1, RLENGTH - 1)
        sub(/\).*/, "", t)
    } else {
        sub(/.*type = */, "", t)
        sub(/,.*/, "", t)
    }
    if (!(name in got)) {
        seen++
    }
    got[name] = toupper(t)
}
END {
    bad = 0
    for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(k in got)) {
            print "  " k ": planned " want[k] ", missing from the dry run"
            bad++
        } else if (got[k] != want[k]) {
            print "  " k ": planned " want[k] ", llama-quantize would write " got[k]
            bad++
        }
    }
    for (k in got) {
        if (!(k in want)) {
            print "  " k ": not in the plan, llama-quantize would write " got[k]
            bad++
        }
    }
    if (n == 0 || seen == 0) {
        print "  no tensors compared (empty plan or unreadable dry-run output)"
        bad++
    }
    exit (bad > 0 ? 1 : 0)
}
RECIPEC_DRYRUN_CHECK
if ! awk -v planfile="$WORK/plan.txt" -f "$WORK/dryrun_check.awk" "$WORK/dry-run.log" >"$WORK/mismatches.txt"; then
    echo "quantize.sh: the dry run does not match the plan; nothing written:" >&2
    sort "$WORK/mismatches.txt" | shown_lines >&2
    exit 1
fi
echo "quantize.sh: dry run matches the plan ($(wc -l <"$WORK/plan.txt") tensors)" >&2
if [[ $GATE_ONLY -eq 1 ]]; then
    exit 0
fi

# --- quantize ------------------------------------------------------------------------------------
rm -f -- ${PARTIALS[@]+"${PARTIALS[@]}"}
say "writing $PARTIAL"
"$LLAMA_QUANTIZE" ${ARGS[@]+"${ARGS[@]}"} ${POSITIONAL[@]+"${POSITIONAL[@]}"} &
QPID=$!
rc=0
wait "$QPID" || rc=$?
QPID=
[[ $rc -eq 0 ]] || die "llama-quantize failed (exit $rc); nothing written"
for f in ${PARTIALS[@]+"${PARTIALS[@]}"}; do
    [[ -f $f ]] || die "llama-quantize did not write $f"
done

# --- verify, then publish ------------------------------------------------------------------------
verified=0
if command -v -- "$RECIPEC" >/dev/null 2>&1; then
    "$RECIPEC" verify "$PLAN_FILE" ${PARTIALS[@]+"${PARTIALS[@]}"} || die "the written file differs from the plan; not renamed"
    verified=1
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import gguf' >/dev/null 2>&1; then
    # recipec/filecheck.py, the comparison `recipec verify` makes
    python3 - "$PLAN_FILE" ${PARTIALS[@]+"${PARTIALS[@]}"} <<'RECIPEC_FILECHECK' || die "the written file differs from the plan; not renamed"
"""The file-against-plan check: a GGUF (all shards) vs plan.lock.json, tensor by tensor.

One self-contained module that imports only the standard library and `gguf`: `recipec verify`
compares with it, and quantize.sh carries it verbatim as the check it runs when recipec is not
installed (`python3 - PLAN GGUF... <<'...'`), so both report the same differences.

    python -m recipec.filecheck PLAN GGUF...

Prints one line per difference on stdout and a summary on stderr; exit 0 when the files are what
the plan says, 1 when they differ, 2 when the plan or a file cannot be read.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import gguf

# Runs under whatever python3 the quantizing machine has: no syntax or library newer than 3.8.

PLAN_SCHEMA_PREFIX = "recipec.plan/"  # any version: every one lists tensors with name, type, shape, bytes
USAGE = "usage: python -m recipec.filecheck PLAN GGUF... (every shard of a split file)"


@dataclass(frozen=True)
class PlannedTensor:
    """One tensor as the plan describes it."""

    name: str
    type: str
    shape: Tuple[int, ...]
    bytes: int


@dataclass(frozen=True)
class FileTensor:
    """One tensor as the written file describes it."""

    name: str
    type: str
    shape: Tuple[int, ...]
    bytes: int
    file: str


@dataclass(frozen=True)
class Difference:
    """One way the file differs from the plan."""

    name: str
    kind: str  # type | shape | bytes | missing | extra | duplicate
    planned: str
    found: str

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.name}: missing from the file (planned {self.planned})"
        if self.kind == "extra":
            return f"{self.name}: in the file ({self.found}) but not in the plan"
        if self.kind == "duplicate":
            return f"{self.name}: in more than one shard ({self.found})"
        return f"{self.name}: {self.kind} planned {self.planned}, file has {self.found}"


def type_name(raw: Any) -> str:
    """The ggml type name of a GGUF tensor type number (`type#N` for one this gguf does not know)."""
    try:
        return gguf.GGMLQuantizationType(int(raw)).name
    except ValueError:
        return f"type#{int(raw)}"


def file_tensors(reader: Any, path: str) -> List[FileTensor]:
    """The tensors of an open gguf.GGUFReader, in file order, tagged with PATH."""
    return [FileTensor(str(t.name), type_name(t.tensor_type), tuple(int(d) for d in t.shape), int(t.n_bytes), path)
            for t in reader.tensors]


def plan_tensors(doc: Any) -> List[PlannedTensor]:
    """The tensors of a parsed plan.lock.json (ValueError if it is not a recipec plan)."""
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(PLAN_SCHEMA_PREFIX):
        raise ValueError("not a recipec plan (no recipec.plan/N schema)")
    try:
        return [PlannedTensor(str(t["name"]), str(t["type"]), tuple(int(d) for d in t["shape"]), int(t["bytes"]))
                for t in doc["tensors"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed tensor list ({exc!r})") from None


def compare(planned: Sequence[PlannedTensor], tensors: Sequence[FileTensor]) -> List[Difference]:
    """The differences between the PLANNED tensors and the file's TENSORS, in plan order then file order."""
    found = {}
    diffs: List[Difference] = []
    for t in tensors:
        if t.name in found:
            diffs.append(Difference(t.name, "duplicate", "", f"{found[t.name].file}, {t.file}"))
        found.setdefault(t.name, t)
    names = {p.name for p in planned}
    for p in planned:
        f = found.get(p.name)
        if f is None:
            diffs.append(Difference(p.name, "missing", p.type, ""))
            continue
        if f.type != p.type:
            diffs.append(Difference(p.name, "type", p.type, f.type))
        if f.shape != tuple(p.shape):
            diffs.append(Difference(p.name, "shape", str(list(p.shape)), str(list(f.shape))))
        if f.bytes != p.bytes:
            diffs.append(Difference(p.name, "bytes", str(p.bytes), str(f.bytes)))
    for t in tensors:
        if t.name not in names:
            diffs.append(Difference(t.name, "extra", "", t.type))
    return diffs


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check the GGUF files against the plan (ARGV: PLAN GGUF...); print the differences; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(args) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    plan_path, paths = args[0], args[1:]
    try:
        with open(plan_path, encoding="utf-8") as fh:
            planned = plan_tensors(json.load(fh))
    except (OSError, ValueError) as exc:
        print(f"verify: {plan_path}: cannot read the plan: {exc}", file=sys.stderr)
        return 2
    tensors: List[FileTensor] = []
    for path in paths:
        try:
            reader = gguf.GGUFReader(path)
            tensors += file_tensors(reader, path)
        except Exception as exc:  # noqa: BLE001 - the reader fails on corrupt files in many ways
            print(f"verify: {path}: not a readable GGUF file: {exc}", file=sys.stderr)
            return 2
    diffs = compare(planned, tensors)
    for d in diffs:
        print(d)
    if diffs:
        names = len({d.name for d in diffs})
        print(f"verify: {names} of {len(planned)} tensor(s) differ from the plan", file=sys.stderr)
        return 1
    print(f"verify: all {len(planned)} tensors match the plan", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
RECIPEC_FILECHECK
    verified=1
fi
for ((i = 0; i < ${#PARTIALS[@]}; i++)); do
    mv -f -- "${PARTIALS[i]}" "${OUTPUTS[i]}"
done
DONE=1
written=${OUTPUTS[*]+"${OUTPUTS[*]}"}
if [[ $verified -eq 1 ]]; then
    say "wrote and verified $written"
else
    say "wrote $written; could not verify it (install recipec, or python3 with gguf)"
fi
