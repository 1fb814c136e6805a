"""Test helpers shared by every test folder: random LoRAs and comparisons by module key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch

from lolzoo.lora.types import Lora, LoraModule

ModuleName = str | tuple[str, str]  # "path" (uses the default component) or (component, path)


def random_lora(shapes: Mapping[ModuleName, tuple[int, ...]], rank: int | Mapping[ModuleName, int] = 4,
                seed: int = 0, alpha: float | None | Mapping[ModuleName, float | None] = 8.0,
                component: str = "", dtype: torch.dtype = torch.float32,
                base_model: str | None = None) -> Lora:
    """A LoRA with Gaussian factors. shapes: name -> (out, in) for a linear layer or
    (out, in, k1, k2) for a convolution; rank and alpha: one value or one per name."""
    generator = torch.Generator().manual_seed(seed)
    modules = []
    for name, shape in shapes.items():
        comp, path = name if isinstance(name, tuple) else (component, name)
        r = rank[name] if isinstance(rank, Mapping) else rank
        a = alpha[name] if isinstance(alpha, Mapping) else alpha
        out_features, in_features, *kernel = shape
        fan_in = in_features * (kernel[0] * kernel[1] if kernel else 1)
        U = torch.randn(out_features, r, generator=generator, dtype=torch.float64) / r ** 0.5
        V = torch.randn(fan_in, r, generator=generator, dtype=torch.float64) / fan_in ** 0.5
        modules.append(LoraModule(comp, path, U.to(dtype), V.to(dtype), a, tuple(kernel) or None))
    return Lora(modules, "synthetic", base_model)


def with_magnitudes(lora: Lora, seed: int = 0) -> Lora:
    """The same LoRA as a DoRA adapter: a positive magnitude per output row, near 1 as peft starts them."""
    generator = torch.Generator().manual_seed(seed)
    modules = [replace(m, magnitude=(1 + 0.1 * torch.randn(m.out_features, generator=generator,
                                                           dtype=torch.float64)).abs().to(m.U.dtype))
               for m in lora.modules]
    return Lora(modules, lora.source_format, lora.base_model, dict(lora.metadata))


def deltas_by_key(lora: Lora) -> dict[str, torch.Tensor]:
    """ΔW of every module (alpha/r folded in), keyed by the format-independent module key."""
    return {m.key: m.delta() for m in lora.modules}


def assert_same_deltas(a: Lora, b: Lora, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    da, db = deltas_by_key(a), deltas_by_key(b)
    assert sorted(da) == sorted(db), f"module keys differ: {sorted(set(da) ^ set(db))[:5]}"
    for key in da:
        torch.testing.assert_close(da[key].double(), db[key].double(), rtol=rtol, atol=atol, msg=key)


def assert_same_lora(a: Lora, b: Lora, check_names: bool = True, alpha_none_is_rank: bool = False) -> None:
    """Same modules in the same order, same U, V, alpha and conv kernels.

    alpha_none_is_rank: accept alpha == rank for None (scale 1), which formats that always
    store an alpha (PEFT) write for "no alpha".
    """
    assert [m.key for m in a.modules] == [m.key for m in b.modules], "module keys or order differ"
    for ma, mb in zip(a.modules, b.modules):
        if check_names:
            assert (ma.component, ma.path) == (mb.component, mb.path), f"{ma.name} != {mb.name}"
        torch.testing.assert_close(ma.U, mb.U, rtol=0, atol=0, msg=f"U of {ma.name}")
        torch.testing.assert_close(ma.V, mb.V, rtol=0, atol=0, msg=f"V of {ma.name}")
        alpha_a, alpha_b = ma.alpha, mb.alpha
        if alpha_none_is_rank:
            alpha_a = ma.rank if alpha_a is None else alpha_a
            alpha_b = mb.rank if alpha_b is None else alpha_b
        if alpha_a is None or alpha_b is None:
            assert alpha_a is alpha_b, f"alpha of {ma.name}: {ma.alpha} != {mb.alpha}"
        else:
            assert abs(alpha_a - alpha_b) <= 1e-6 * max(1.0, abs(alpha_a)), \
                f"alpha of {ma.name}: {alpha_a} != {alpha_b}"
        assert ma.conv_kernel == mb.conv_kernel, f"conv kernel of {ma.name}"
        assert (ma.magnitude is None) == (mb.magnitude is None), f"DoRA magnitude of {ma.name} on one side only"
        if ma.magnitude is not None:
            torch.testing.assert_close(ma.magnitude, mb.magnitude, rtol=0, atol=0, msg=f"magnitude of {ma.name}")


# Module names of a Stable-Diffusion-like LoRA, as (component, dotted path).
UNET_Q = ("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
UNET_OUT = ("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0")
UNET_CONV = ("unet", "down_blocks.0.resnets.0.conv1")
TEXT_Q = ("text_encoder", "text_model.encoder.layers.0.self_attn.q_proj")


def sd_like_lora(seed: int = 1) -> Lora:
    """UNet linear and 3x3 conv modules plus a text encoder module, mixed ranks and alphas."""
    return random_lora(
        {UNET_Q: (8, 6), UNET_OUT: (8, 8), UNET_CONV: (8, 4, 3, 3), TEXT_Q: (6, 6)},
        rank={UNET_Q: 4, UNET_OUT: 4, UNET_CONV: 2, TEXT_Q: 3},
        alpha={UNET_Q: 8.0, UNET_OUT: 4.0, UNET_CONV: 8.0, TEXT_Q: 1.5},
        seed=seed, base_model="tiny-sd")


def language_like_lora(seed: int = 2) -> Lora:
    """A single-model (component "") LoRA like a PEFT adapter of a causal LM's attention."""
    shapes = {f"model.layers.{i}.self_attn.{p}": (16, 12) for i in (0, 1, 10) for p in ("q_proj", "v_proj")}
    return random_lora(shapes, rank=4, alpha=16.0, seed=seed, base_model="tiny-qwen2")
