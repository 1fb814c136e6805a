"""DreamBooth LoRAs of an SD-1.x-shaped pipeline: finetune one LoRA, evaluate it (CLIP score) and
write its label file. The same code serves the tiny default-world base and SD 1.4."""
