"""The default world's offline images: procedural faces (CelebA stand-in), coloured digits
(Imagenette stand-in), and the per-LoRA finetuning folders built from them."""
