"""K LoRAs on one UNet at once: each sample of a batch goes through its own LoRA.

Every target linear layer (the `to_q`, `to_v`, ... of zoo.lora.target_modules, matched as peft
matches them: the module name or a dotted suffix) gets a `BatchedLoraLinear` holding stacked
factors A (K, r, in) and B (K, out, r) and one scale alpha/r per LoRA. It is attached with a
forward hook, so the UNet keeps its module paths (the saved LoRA names them as diffusers and
peft do) and detaching restores the base exactly. A shared `Router` holds the index vector
that says which LoRA each sample of the next forward uses; a batch that is a multiple of the
index (classifier-free guidance doubles it as [uncond, cond]) repeats the index.

LoRAs of different ranks share the stack: a rank-r LoRA is padded to the shard's largest rank
with zero rows of A and zero columns of B. Those stay exactly zero in training (their
gradients are zero, and AdamW with weight decay keeps a zero at zero), so the padded LoRA is
the same function and the same trained factors as the unpadded one.

`BatchedAdamW` is torch's AdamW (single-tensor algorithm, diffusers' example defaults) applied
to the LoRA slices that step now, each with its own learning rate and step count, after
`clip_grad_norm_per_lora` clips each LoRA's gradient on its own (max norm over its modules only).
In fp16 training `BatchedGradScaler` is torch's GradScaler with one loss scale per LoRA.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lolzoo.errors import LolzooError
from lolzoo.lora import Lora
from lolzoo.lora.pairs import module_from_pair

# diffusers' example defaults (train_dreambooth_lora.py): AdamW betas, weight decay, eps, grad clip
ADAM_BETAS = (0.9, 0.999)
ADAM_WEIGHT_DECAY = 1e-2
ADAM_EPSILON = 1e-8
MAX_GRAD_NORM = 1.0


class Router:
    """Which LoRA each sample of the next forward goes through: a (batch,) index into the stack."""

    def __init__(self):
        self.index: torch.Tensor | None = None

    def for_batch(self, batch: int) -> torch.Tensor:
        index = self.index
        if index is None:
            raise RuntimeError("set router.index before a forward through a batched LoRA")
        if batch == len(index):
            return index
        if batch % len(index):
            raise RuntimeError(f"a batch of {batch} samples for an index of {len(index)} LoRAs")
        return index.repeat(batch // len(index))  # [uncond, cond] halves each in index order


class BatchedLoraLinear(torch.nn.Module):
    """ΔW_k x = (alpha_k / r_k) B_k A_k x for the LoRA k each sample is routed to."""

    def __init__(self, in_features: int, out_features: int, rank: int, scales: torch.Tensor, router: Router):
        super().__init__()
        count = len(scales)
        self.A = torch.nn.Parameter(torch.zeros(count, rank, in_features))
        self.B = torch.nn.Parameter(torch.zeros(count, out_features, rank))
        self.register_buffer("scales", scales.clone().float())
        self.router = router

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        index = self.router.for_batch(x.shape[0]).to(x.device)
        flat = x.reshape(x.shape[0], -1, x.shape[-1])  # (N, T, in)
        A, B = self.A[index].to(x.dtype), self.B[index].to(x.dtype)
        hidden = torch.bmm(flat, A.transpose(1, 2))  # (N, T, r)
        out = torch.bmm(hidden, B.transpose(1, 2)) * self.scales[index].to(x.dtype).view(-1, 1, 1)
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def hook(self, module, args, output):
        return output + self.delta(args[0])


@dataclass(frozen=True)
class LoraShape:
    """One LoRA of the shard: its rank and alpha (its scale is alpha / rank)."""

    rank: int
    alpha: float


def target_paths(unet, target_modules) -> list[str]:
    """UNet linear layers whose name is a target or ends with '.<target>' (peft's rule), in module order."""
    paths = []
    for name, module in unet.named_modules():
        if any(name == t or name.endswith(f".{t}") for t in target_modules):
            if not isinstance(module, torch.nn.Linear):
                raise LolzooError(f"{name}: a LoRA target that is a {type(module).__name__}, not a linear layer")
            paths.append(name)
    if not paths:
        raise LolzooError(f"the base UNet has no layer named {list(target_modules)}")
    return paths


class BatchedLora(torch.nn.Module):
    """The stacked LoRAs of a shard, hooked into `unet` until `detach()`."""

    def __init__(self, unet, paths: list[str], shapes: list[LoraShape]):
        super().__init__()
        if not shapes:
            raise ValueError("a shard of no LoRAs")
        self.paths, self.shapes = list(paths), list(shapes)
        self.router = Router()
        self.max_rank = max(s.rank for s in shapes)
        scales = torch.tensor([s.alpha / s.rank for s in shapes], dtype=torch.float64)
        layers = dict(unet.named_modules())
        weight = next(unet.parameters())
        # factors at least in float32 (an fp16 base trains fp32 LoRAs, as diffusers' example does); float64 stays
        device, dtype = weight.device, torch.promote_types(weight.dtype, torch.float32)
        self.layers = torch.nn.ModuleList()
        self.handles = []
        for path in self.paths:
            base = layers[path]
            layer = BatchedLoraLinear(base.in_features, base.out_features, self.max_rank, scales, self.router)
            self.layers.append(layer.to(device, dtype))
            self.handles.append(base.register_forward_hook(layer.hook))

    @classmethod
    def attach(cls, unet, target_modules, shapes: list[LoraShape]) -> "BatchedLora":
        return cls(unet, target_paths(unet, target_modules), shapes)

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def __len__(self) -> int:
        return len(self.shapes)

    @torch.no_grad()
    def init_gaussian(self, k: int, generator: torch.Generator) -> None:
        """peft's "gaussian" init of LoRA k from its own stream: A ~ N(0, std 1/r) per module in path order, B = 0."""
        rank = self.shapes[k].rank
        for layer in self.layers:
            A = torch.randn(rank, layer.A.shape[2], generator=generator, device=generator.device) / rank
            layer.A[k].zero_()
            layer.A[k, :rank] = A.to(layer.A.device)
            layer.B[k].zero_()

    @torch.no_grad()
    def load(self, k: int, lora: Lora) -> None:
        """Put a canonical Lora (UNet paths = this shard's paths) into slot k, at the scale its file records."""
        by_path = {m.path: m for m in lora.modules}
        if set(by_path) != set(self.paths):
            raise LolzooError(f"the LoRA adapts {len(by_path)} modules, the shard {len(self.paths)}")
        shape = self.shapes[k]
        for path, layer in zip(self.paths, self.layers):
            module = by_path[path]
            if module.rank != shape.rank:
                raise LolzooError(f"{module.name}: rank {module.rank}, slot {k} is rank {shape.rank}")
            layer.A[k].zero_()
            layer.B[k].zero_()
            layer.A[k, :shape.rank] = module.V.T.to(layer.A)
            layer.B[k, :, :shape.rank] = module.U.to(layer.B)

    def lora(self, k: int) -> Lora:
        """LoRA k as a canonical Lora (component "unet", diffusers' module paths, its own rank and alpha)."""
        shape = self.shapes[k]
        modules = [module_from_pair("unet", path, layer.A[k, :shape.rank].detach().float().cpu().clone(),
                                    layer.B[k, :, :shape.rank].detach().float().cpu().clone(), shape.alpha)
                   for path, layer in zip(self.paths, self.layers)]
        return Lora(modules, source_format="diffusers")

    def factors(self) -> list[torch.nn.Parameter]:
        return [p for layer in self.layers for p in (layer.A, layer.B)]


@torch.no_grad()
def clip_grad_norm_per_lora(parameters, loras: torch.Tensor, max_norm: float = MAX_GRAD_NORM) -> torch.Tensor:
    """clip_grad_norm_ for each LoRA k in `loras` over its own slices [k] of every stacked parameter."""
    norms = torch.zeros(len(loras), dtype=torch.float32, device=loras.device)
    for p in parameters:
        if p.grad is not None:
            norms += p.grad[loras].float().pow(2).flatten(1).sum(1)
    norms = norms.sqrt()
    coefficients = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in parameters:
        if p.grad is not None:
            shape = (-1,) + (1,) * (p.ndim - 1)
            p.grad[loras] = p.grad[loras] * coefficients.view(shape).to(p.grad.dtype)
    return norms


class BatchedGradScaler:
    """torch.amp.GradScaler's dynamic loss scaling (its defaults), one scale per LoRA of a shard.

    For fp16 mixed precision (diffusers' example trains so under --mixed_precision fp16). LoRA
    k's loss is multiplied by its own scale before the backward; its factors' gradients come from
    its own samples only, so an overflow in one LoRA's backward touches that LoRA alone, and each
    LoRA skips steps and changes its scale exactly as GradScaler would in its lone run. At a
    LoRA's optimiser step: `unscale_` divides its gradient slices by its scale and reports whether
    they are all finite; the step is taken only if so (a skipped step leaves AdamW's step count
    as it was, as GradScaler.step skips optimizer.step); `update` halves the scale after an
    overflow and doubles it after `growth_interval` finite steps in a row.
    """

    def __init__(self, count: int, device, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000):
        self.scales = torch.full((count,), float(init_scale), dtype=torch.float32, device=device)
        self.growth_tracker = torch.zeros(count, dtype=torch.int64, device=device)
        self.growth_factor, self.backoff_factor, self.growth_interval = growth_factor, backoff_factor, growth_interval

    def scale(self, k: int) -> torch.Tensor:
        """LoRA k's current loss scale (a 0-d float32 tensor)."""
        return self.scales[k]

    @torch.no_grad()
    def unscale_(self, parameters, loras: torch.Tensor) -> torch.Tensor:
        """Divide the gradient slices [k] of every k in `loras` by k's scale; (len(loras),) True where all are finite."""
        inverse = self.scales[loras].double().reciprocal().float()
        finite = torch.ones(len(loras), dtype=torch.bool, device=loras.device)
        for p in parameters:
            if p.grad is not None:
                shape = (-1,) + (1,) * (p.ndim - 1)
                grad = p.grad[loras] * inverse.view(shape).to(p.grad.dtype)
                finite &= torch.isfinite(grad).flatten(1).all(1)
                p.grad[loras] = grad
        return finite

    @torch.no_grad()
    def update(self, loras: torch.Tensor, finite: torch.Tensor) -> None:
        """After the step of `loras`: back off where it overflowed, grow after growth_interval clean steps."""
        scales, tracker = self.scales[loras], self.growth_tracker[loras]
        tracker = torch.where(finite, tracker + 1, torch.zeros_like(tracker))
        grow = tracker >= self.growth_interval
        scales = torch.where(finite, torch.where(grow, scales * self.growth_factor, scales), scales * self.backoff_factor)
        self.scales[loras] = scales
        self.growth_tracker[loras] = torch.where(grow, torch.zeros_like(tracker), tracker)


class BatchedAdamW:
    """AdamW over stacked parameters (LoRA k is slice [k]), each LoRA with its own learning rate and steps."""

    def __init__(self, parameters, learning_rates, betas=ADAM_BETAS, weight_decay=ADAM_WEIGHT_DECAY,
                 eps=ADAM_EPSILON):
        self.parameters = list(parameters)
        device = self.parameters[0].device
        # float64 like torch's Python-float step sizes: 1 - 0.999 ** step in float32 loses 1e-5 of itself
        self.learning_rates = torch.as_tensor(learning_rates, dtype=torch.float64, device=device)
        self.steps = torch.zeros(len(self.learning_rates), dtype=torch.float64, device=device)
        self.betas, self.weight_decay, self.eps = betas, weight_decay, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.parameters]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.parameters]

    @torch.no_grad()
    def step(self, loras: torch.Tensor) -> None:
        """One AdamW step of the LoRAs in `loras` (their gradients), then zero their gradients."""
        beta1, beta2 = self.betas
        self.steps[loras] += 1
        steps = self.steps[loras]
        lr = self.learning_rates[loras]
        bias_correction1 = 1 - beta1 ** steps
        bias_correction2_sqrt = (1 - beta2 ** steps).sqrt()
        for p, exp_avg, exp_avg_sq in zip(self.parameters, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            shape, dtype = (-1,) + (1,) * (p.ndim - 1), p.dtype
            grad, param = p.grad[loras], p[loras]
            param = param * (1 - lr * self.weight_decay).to(dtype).view(shape)
            m = exp_avg[loras].lerp(grad, 1 - beta1)
            v = exp_avg_sq[loras] * beta2 + grad * grad * (1 - beta2)
            denom = v.sqrt() / bias_correction2_sqrt.to(dtype).view(shape) + self.eps
            param = param - (lr / bias_correction1).to(dtype).view(shape) * m / denom
            p[loras] = param
            exp_avg[loras] = m
            exp_avg_sq[loras] = v
            p.grad[loras] = 0
