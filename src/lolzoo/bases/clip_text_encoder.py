"""The tiny CLIP's text tower as a transformers CLIPTextModel: the tiny SD's text encoder.

SD 1.x conditions its UNet on the text encoder of a pretrained CLIP (OpenAI's ViT-L/14), kept
frozen. The default world does the same: its tiny CLIP (open_clip, pretrained contrastively on
the captioned stand-ins) has the text tower of the tiny pipeline's shape, so its weights are
copied into the pipeline's CLIPTextModel. Measured: trained together with the UNet from random,
the text encoder had not learned to tell the digit words apart by the end of the time budget
(prompted-digit accuracy 0.31 after 1,600 steps; 0.21 against 0.11 at 800 steps with this
tower); with it and lolzoo.bases.pretrain_unet's schedule, 0.89 after 2,000 steps.

open_clip's text transformer is a pre-LayerNorm transformer with a causal mask, fused q/k/v
projections (nn.MultiheadAttention) and exact GELU, and its last hidden state is ln_final's
output, which is what CLIPTextModel.last_hidden_state (after final_layer_norm) is too.
"""

from __future__ import annotations

import torch


def text_encoder_config_of(clip) -> dict:
    """The CLIPTextConfig values that make a CLIPTextModel the shape of `clip`'s text tower."""
    text = clip.model_config["text_cfg"]
    return {"vocab_size": text["vocab_size"], "hidden_size": text["width"],
            "intermediate_size": int(text["width"] * text.get("mlp_ratio", 4.0)),
            "num_hidden_layers": text["layers"], "num_attention_heads": text["heads"],
            "max_position_embeddings": text["context_length"], "hidden_act": "gelu"}


def check_compatible(clip, text_encoder) -> None:
    """Raise ValueError naming every config value where the two towers differ."""
    wanted = text_encoder_config_of(clip)
    have = {key: getattr(text_encoder.config, key) for key in wanted}
    wrong = {key: (have[key], wanted[key]) for key in wanted if have[key] != wanted[key]}
    if wrong:
        details = ", ".join(f"{key} {a} (CLIP has {b})" for key, (a, b) in sorted(wrong.items()))
        raise ValueError(f"the text encoder is not the shape of the CLIP text tower: {details}")


def clip_text_state_dict(clip) -> dict[str, torch.Tensor]:
    """open_clip text-tower weights renamed (and q/k/v split) to CLIPTextModel's state dict."""
    source = clip.model.state_dict()
    out = {"embeddings.token_embedding.weight": source["token_embedding.weight"],
           "embeddings.position_embedding.weight": source["positional_embedding"],
           "final_layer_norm.weight": source["ln_final.weight"],
           "final_layer_norm.bias": source["ln_final.bias"]}
    for layer in range(clip.model_config["text_cfg"]["layers"]):
        block, target = f"transformer.resblocks.{layer}", f"encoder.layers.{layer}"
        for name in ("weight", "bias"):
            q, k, v = source[f"{block}.attn.in_proj_{name}"].chunk(3, dim=0)
            out.update({f"{target}.self_attn.q_proj.{name}": q, f"{target}.self_attn.k_proj.{name}": k,
                        f"{target}.self_attn.v_proj.{name}": v,
                        f"{target}.self_attn.out_proj.{name}": source[f"{block}.attn.out_proj.{name}"],
                        f"{target}.layer_norm1.{name}": source[f"{block}.ln_1.{name}"],
                        f"{target}.layer_norm2.{name}": source[f"{block}.ln_2.{name}"],
                        f"{target}.mlp.fc1.{name}": source[f"{block}.mlp.c_fc.{name}"],
                        f"{target}.mlp.fc2.{name}": source[f"{block}.mlp.c_proj.{name}"]})
    return {key: value.detach().clone() for key, value in out.items()}


@torch.no_grad()
def load_clip_text_tower(text_encoder, clip) -> None:
    """Copy `clip`'s text tower into `text_encoder` (a CLIPTextModel of the same shape) in place."""
    check_compatible(clip, text_encoder)
    weights = clip_text_state_dict(clip)
    # position_ids is a buffer of CLIPTextModel, not a weight: everything else must be covered
    missing, unexpected = text_encoder.load_state_dict(weights, strict=False)
    missing = [key for key in missing if not key.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"text tower conversion incomplete: missing {missing}, unexpected {unexpected}")
