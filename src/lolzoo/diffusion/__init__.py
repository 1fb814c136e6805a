"""DreamBooth LoRAs of an SD-1.x-shaped pipeline: finetune a shard of LoRAs in one batched process,
evaluate a shard (CLIP score) and write one label file per LoRA. A single LoRA is a shard of one.
The same code serves the tiny default-world base and SD 1.4."""
