"""GL-net's layers one by one: equivariance, the gate against an explicit reference, the
parameter count of Proposition 1, and broken variants that the checks must catch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.gl_layers import EquivariantLinear, GLGate
from lolzoo.lol.registry import build_model
from lolzoo.lol.testing import assert_equivariant, assert_invariant, gl_action, random_gl

from lol_model_helpers import RANK, SHAPES, fitted_model, random_lora_batch


def test_equivariant_linear_is_equivariant():
    layer = EquivariantLinear(SHAPES, 7).double()
    batch = random_lora_batch(8)
    assert_equivariant(layer, batch, gl_action(batch))


@pytest.mark.parametrize("gate", ["sigmoid", "step"])
def test_gate_is_equivariant(gate):
    batch = random_lora_batch(8)
    assert_equivariant(GLGate(gate), batch, gl_action(batch))


@pytest.mark.parametrize("gate", ["sigmoid", "step"])
def test_whole_equivariant_trunk_is_equivariant(gate):
    batch = random_lora_batch(8)
    trunk = _Trunk(fitted_model("glnet", layers=3, gate=gate))
    assert_equivariant(trunk, batch, gl_action(batch))


class _Trunk(nn.Module):
    """GL-net's equivariant part as a module (assert_equivariant wants one)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.equivariant_features(batch)


REFERENCE_GATES = {"sigmoid": torch.sigmoid, "step": lambda x: torch.relu(torch.sign(x))}


@pytest.mark.parametrize("gate", sorted(REFERENCE_GATES))
def test_gate_equals_reference_that_forms_the_product(gate):
    batch = random_lora_batch(8)
    sigma = REFERENCE_GATES[gate]
    out = GLGate(gate)(batch)
    for u, v, u_out, v_out in zip(batch.U, batch.V, out.U, out.V):
        product = u @ v.mT  # (B, n, m): what the layer must never build
        torch.testing.assert_close(u_out, u * sigma(product.sum(-1)).unsqueeze(-1), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(v_out, v * sigma(product.sum(-2)).unsqueeze(-1), rtol=1e-12, atol=1e-12)


def test_glnet_never_forms_n_by_m_products():
    """n = 200 000, m = 150 000: one ΔW would take 240 GB in float64, more than this machine
    has, so fitting, the gate and the head only work if they stay at O((n + m) r) memory."""
    shapes = [(200_000, 150_000)]
    model = build_model("glnet", shapes, 2, 1, equivariant_hidden=4).double()
    batch = random_lora_batch(2, rank=2, shapes=shapes)
    model.fit_preprocessing(batch)
    with torch.no_grad():
        assert torch.isfinite(model(batch)).all()
    assert_equivariant(GLGate(), batch, gl_action(batch))


def _kron(a, b):
    return torch.kron(a.contiguous(), b.contiguous())  # kron fails on non-contiguous inputs (transposes, inv)


def _action_matrix(shapes, gs):
    """The GL(r)^K action on vec(U_1, V_1, U_2, ...) (row-major): U ↦ U g is I_n ⊗ gᵀ, V ↦ V g^{-T} is I_m ⊗ g^{-1}."""
    def copies(count, a):  # I_count ⊗ a
        return _kron(torch.eye(count, dtype=a.dtype), a)

    blocks = []
    for (n, m), g in zip(shapes, gs):
        blocks += [copies(n, g.T), copies(m, torch.linalg.inv(g))]
    return torch.block_diag(*blocks)


def _equivariant_map_dimension(in_shapes, out_shapes, rank, draws=4):
    """dim {L linear : L ρ_in(g) = ρ_out(g) L for all g}, as the null space of the stacked constraints
    (I ⊗ ρ_inᵀ − ρ_out ⊗ I) vec(L) = 0 for a few random g (generic g suffice)."""
    constraints = []
    for _ in range(draws):
        gs = [random_gl(rank) for _ in in_shapes]
        rho_in, rho_out = _action_matrix(in_shapes, gs), _action_matrix(out_shapes, gs)
        eye_in, eye_out = torch.eye(rho_in.shape[0], dtype=rho_in.dtype), torch.eye(rho_out.shape[0], dtype=rho_in.dtype)
        constraints.append(_kron(eye_out, rho_in.T) - _kron(rho_out, eye_in))
    singular = torch.linalg.svdvals(torch.cat(constraints))  # as many as unknowns: more rows than columns
    return int((singular < 1e-8 * singular.max()).sum())


@pytest.mark.parametrize("rank", [1, 2])
def test_equivariant_linear_has_the_parameter_count_of_proposition_1(rank):
    """Proposition 1 for independent GL(r) actions, one per module. Module k's input is n_k
    copies of the row representation ρ(g): x ↦ x g (the rows of U) and m_k copies of its dual
    ρ*(g): y ↦ y g^{-T} (the rows of V). ρ is absolutely irreducible, so Hom_G(ρ, ρ) = R (Schur);
    ρ ≇ ρ* (the scalar t·I acts by t on one and by 1/t on the other), so Hom_G(ρ, ρ*) = 0; and
    g_k acts trivially on module l ≠ k, so nothing maps across modules. Hence the equivariant
    maps are exactly U'_k = A_k U_k, V'_k = B_k V_k with A_k ∈ R^{h×n_k}, B_k ∈ R^{h×m_k}, a space
    of dimension Σ_k h·n_k + h·m_k, with no bias (a bias would be a fixed point of the action,
    and the only one is 0). Checked twice: against our layer's parameter count, and against the
    null space of the equivariance constraints computed numerically on small shapes."""
    shapes, h = [(2, 3), (1, 2)], 2
    layer = EquivariantLinear(shapes, h)
    expected = sum(h * n + h * m for n, m in shapes)
    assert sum(p.numel() for p in layer.parameters()) == expected == 16
    assert _equivariant_map_dimension(shapes, [(h, h)] * len(shapes), rank) == expected


def test_glnet_equivariant_parameter_count():
    model = fitted_model("glnet", layers=3, equivariant_hidden=4)
    first = sum(4 * (n + m) for n, m in SHAPES)
    later = 2 * len(SHAPES) * (4 * 4 + 4 * 4)
    assert sum(p.numel() for p in model.linears.parameters()) == first + later


# --- deliberately broken variants: the checks must catch them

class RankMixingLinear(nn.Module):
    """U' = U W, V' = V W with W ∈ R^{r×r}: acts on the rank dimension, which g also acts on."""

    def __init__(self, rank):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(rank, rank, dtype=torch.float64))

    def forward(self, x):
        return LoraBatch([u @ self.weight for u in x.U], [v @ self.weight for v in x.V])


class BiasedLinear(EquivariantLinear):
    """The equivariant layer plus a bias: the constant does not move with g."""

    def __init__(self, in_shapes, out_rows, rank):
        super().__init__(in_shapes, out_rows)
        self.bias = nn.Parameter(torch.randn(out_rows, rank))

    def forward(self, x):
        out = super().forward(x)
        return LoraBatch([u + self.bias for u in out.U], [v + self.bias for v in out.V])


class OneSidedGate(GLGate):
    """Gates rows of U by the row sums of U alone: those change with g."""

    def forward(self, x):
        return LoraBatch([u * self.sigma(u.sum(-1, keepdim=True)) for u in x.U], list(x.V))


@pytest.mark.parametrize("layer", [RankMixingLinear(RANK), BiasedLinear(SHAPES, 5, RANK).double(), OneSidedGate()],
                         ids=["rank-mixing", "bias", "one-sided-gate"])
def test_non_equivariant_layers_are_caught(layer):
    batch = random_lora_batch(8)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(layer, batch, gl_action(batch))


def test_glnet_with_a_biased_first_layer_is_caught():
    model = fitted_model("glnet")
    broken = BiasedLinear(SHAPES, model.hparams["equivariant_hidden"], RANK).double()
    broken.load_state_dict(model.linears[0].state_dict(), strict=False)
    model.linears[0] = broken
    batch = random_lora_batch(8)
    with pytest.raises(AssertionError, match="not invariant"):
        assert_invariant(model, batch, gl_action(batch))


def test_step_gated_trunk_is_positively_homogeneous():
    """The reason "step" is the default gate: the gates see only the direction of ΔW, so
    scaling U by c > 0 scales the trunk's U output by c and leaves V's alone."""
    trunk, batch = _Trunk(fitted_model("glnet", layers=3, gate="step")), random_lora_batch(8)
    c = float(torch.empty(()).uniform_(0.1, 10.0))
    scaled = trunk(LoraBatch([c * u for u in batch.U], list(batch.V)))
    plain = trunk(batch)
    for u_scaled, u, v_scaled, v in zip(scaled.U, plain.U, scaled.V, plain.V):
        torch.testing.assert_close(u_scaled, c * u)
        torch.testing.assert_close(v_scaled, v)
