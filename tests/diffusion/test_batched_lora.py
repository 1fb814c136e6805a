"""The batched pieces, each against its one-LoRA reference: routing, per-LoRA clipping, per-LoRA AdamW."""

import pytest
import torch

from lolzoo.diffusion.batched_lora import (BatchedAdamW, BatchedLora, LoraShape, clip_grad_norm_per_lora,
                                           target_paths)
from lolzoo.errors import LolzooError


class Toy(torch.nn.Module):
    """Two linear layers named like attention projections: (N, T, 6) -> (N, T, 6)."""

    def __init__(self):
        super().__init__()
        self.attn = torch.nn.Module()
        self.attn.to_q = torch.nn.Linear(6, 5)
        self.attn.to_v = torch.nn.Linear(5, 6)
        self.other = torch.nn.Linear(6, 6)

    def forward(self, x):
        return self.other(self.attn.to_v(self.attn.to_q(x)))


def random_shard(model, shapes, seed=0):
    shard = BatchedLora.attach(model, ["to_q", "to_v"], shapes)
    generator = torch.Generator().manual_seed(seed)
    for k in range(len(shapes)):
        shard.init_gaussian(k, generator)
        with torch.no_grad():
            for layer in shard.layers:
                layer.B[k, :, :shapes[k].rank] = torch.randn(layer.B.shape[1], shapes[k].rank, generator=generator)
    return shard


def test_targets_match_names_and_dotted_suffixes_only():
    assert target_paths(Toy(), ["to_q", "to_v"]) == ["attn.to_q", "attn.to_v"]
    with pytest.raises(LolzooError, match=r"^the base UNet has no layer named \['to_k'\]$"):
        target_paths(Toy(), ["to_k"])


def test_each_sample_goes_through_its_own_lora_of_its_own_rank_and_detach_restores_the_base():
    torch.manual_seed(0)
    model, x = Toy(), torch.randn(5, 3, 6)
    base = model(x)
    shapes = [LoraShape(4, 27.0), LoraShape(2, 3.0), LoraShape(1, 1.0)]
    shard = random_shard(model, shapes)
    index = torch.tensor([2, 0, 1, 0, 2])
    shard.router.index = index
    batched = model(x)
    doubled = model(torch.cat([x, x]))
    torch.testing.assert_close(doubled, torch.cat([batched, batched]))  # [uncond, cond]: the index repeats
    for sample, k in enumerate(index.tolist()):
        lora = shard.lora(k)
        assert {m.rank for m in lora.modules} == {shapes[k].rank}
        deltas = {m.path: m.scale * m.U @ m.V.T for m in lora.modules}
        with torch.no_grad():
            h = torch.nn.functional.linear(x[sample], model.attn.to_q.weight + deltas["attn.to_q"], model.attn.to_q.bias)
            h = torch.nn.functional.linear(h, model.attn.to_v.weight + deltas["attn.to_v"], model.attn.to_v.bias)
            expected = model.other(h)
        torch.testing.assert_close(batched[sample], expected, rtol=1e-4, atol=1e-5)
    shard.detach()
    assert torch.equal(model(x), base)


def test_padded_rank_stays_zero_and_matches_the_unpadded_lora_through_training():
    """A rank-2 LoRA in a rank-4 stack trains to the factors it gets in a stack of its own."""
    torch.manual_seed(1)
    x, target = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
    results = []
    for shapes in ([LoraShape(2, 4.0)], [LoraShape(4, 8.0), LoraShape(2, 4.0)]):
        torch.manual_seed(2)
        model = Toy().requires_grad_(False)
        shard = random_shard(model, shapes, seed=len(shapes))
        slot = len(shapes) - 1
        generator = torch.Generator().manual_seed(9)  # the rank-2 LoRA: the same init in both stacks
        shard.init_gaussian(slot, generator)
        optimizer = BatchedAdamW(shard.factors(), [1e-2] * len(shapes))
        for _ in range(3):
            shard.router.index = torch.full((2,), slot)
            loss = (model(x) - target).pow(2).mean()
            loss.backward()
            clip_grad_norm_per_lora(shard.factors(), torch.tensor([slot]))
            optimizer.step(torch.tensor([slot]))
        results.append(shard)
    alone, padded = results[0].lora(0), results[1].lora(1)
    for a, b in zip(alone.modules, padded.modules):
        torch.testing.assert_close(a.U, b.U, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(a.V, b.V, rtol=1e-5, atol=1e-7)
    assert all(layer.A[1, 2:].abs().sum() == 0 and layer.B[1, :, 2:].abs().sum() == 0 for layer in results[1].layers)


def test_gradient_clipping_is_per_lora():
    torch.manual_seed(0)
    stacked = [torch.nn.Parameter(torch.zeros(3, 4, 5)), torch.nn.Parameter(torch.zeros(3, 2))]
    grads = [torch.randn(3, 4, 5) * torch.tensor([0.01, 3.0, 10.0]).view(3, 1, 1), torch.randn(3, 2)]
    for p, g in zip(stacked, grads):
        p.grad = g.clone()
    clip_grad_norm_per_lora(stacked, torch.tensor([0, 2]))
    for k in range(3):
        alone = [torch.nn.Parameter(torch.zeros(4, 5)), torch.nn.Parameter(torch.zeros(2))]
        for p, g in zip(alone, grads):
            p.grad = g[k].clone()
        if k != 1:  # LoRA 1 does not step now: its gradient is left as it is
            torch.nn.utils.clip_grad_norm_(alone, 1.0)
        for p, q in zip(stacked, alone):
            torch.testing.assert_close(p.grad[k], q.grad, rtol=1e-6, atol=1e-8)


def test_batched_adamw_is_torch_adamw_per_lora_with_its_own_rate_and_steps():
    torch.manual_seed(0)
    rates = [1e-3, 1e-1, 3e-2]
    stacked = [torch.nn.Parameter(torch.randn(3, 4, 5)), torch.nn.Parameter(torch.randn(3, 2))]
    alone = [[torch.nn.Parameter(p.detach()[k].clone()) for p in stacked] for k in range(3)]
    references = [torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
                  for params, lr in zip(alone, rates)]
    optimizer = BatchedAdamW(stacked, rates)
    schedule = [[0, 1, 2], [0, 2], [2], [0, 1, 2], [1]]  # LoRAs step at their own times (accumulation)
    for stepping in schedule:
        grads = [torch.randn_like(p) for p in stacked]
        for p, g in zip(stacked, grads):
            p.grad = g.clone()
        optimizer.step(torch.tensor(stepping))
        for k in stepping:
            for p, g in zip(alone[k], grads):
                p.grad = g[k].clone()
            references[k].step()
        for k in range(3):
            for p, q in zip(stacked, alone[k]):
                torch.testing.assert_close(p.detach()[k], q.detach(), rtol=1e-6, atol=1e-7)
        assert all(p.grad[stepping].abs().sum() == 0 for p in stacked), "stepped LoRAs' gradients are zeroed"
