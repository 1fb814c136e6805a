"""Base models of the default world, built offline: a tiny SD-1.x-shaped pipeline, a tiny
open_clip model and the CLIP BPE tokenizer they share."""
