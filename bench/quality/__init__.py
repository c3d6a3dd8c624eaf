"""Quality bench: a small llama model trained from scratch, stock llama.cpp mixes vs recipec plans at equal size."""
