"""Language zoos: LoRAs of a causal LM on ARC question sources, their finetuning and evaluation."""
