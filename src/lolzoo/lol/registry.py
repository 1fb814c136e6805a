"""Build any LoL model by name, and rebuild it from its config.

    build_model("glnet", shapes=[(320, 320), (320, 768)], rank=4, out_dim=1, layers=2)
    model_from_config(model.config())  # then load_state_dict: fitted buffers come back

Default hyperparameters per kind (default_hparams(kind)):
- "mlp", "o-align", "svd", "dense": hidden=[64] (one hidden layer of 64, as the paper's
  baselines), dropout=0.0.
- "glnet": equivariant_hidden=16, layers=1 (the paper's diffusion runs; its Qwen2 runs used 2),
  gate="step" (used from layers=2 on), head="flat", hidden=[64], dropout=0.0; the reasons
  are in lolzoo.lol.glnet.
`rank` is the rank of the zoo: the input rank of "mlp"/"o-align" (fixed), the number of
singular values "svd" keeps; "dense" and "glnet" take any rank and only record it.

One model per file (flat_mlp, o_align, svd_mlp, dense_mlp, glnet), each a LoLModel (lol.base):
a new model is one new file and one line in MODEL_CLASSES, and tests/lol's invariance and
overfit tests run on every kind listed here without further change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lolzoo.lol.base import LoLModel
from lolzoo.lol.dense_mlp import DenseMLP
from lolzoo.lol.flat_mlp import FlatMLP
from lolzoo.lol.glnet import GLNet
from lolzoo.lol.o_align import OAlignMLP
from lolzoo.lol.svd_mlp import SVDMLP

MODEL_CLASSES: dict[str, type[LoLModel]] = {
    "mlp": FlatMLP, "o-align": OAlignMLP, "svd": SVDMLP, "dense": DenseMLP, "glnet": GLNet,
}
MODEL_KINDS = tuple(MODEL_CLASSES)
CONFIG_KEYS = ("kind", "shapes", "rank", "out_dim", "hparams", "magnitudes")


def model_class(kind: str) -> type[LoLModel]:
    if kind not in MODEL_CLASSES:
        raise ValueError(f"unknown LoL model kind {kind!r}; valid: {list(MODEL_KINDS)}")
    return MODEL_CLASSES[kind]


def default_hparams(kind: str) -> dict:
    """A copy of the kind's default hyperparameters."""
    return {k: list(v) if isinstance(v, list) else v for k, v in model_class(kind).DEFAULT_HPARAMS.items()}


def build_model(kind: str, shapes: Sequence[tuple[int, int]], rank: int, out_dim: int, magnitudes: bool = False,
                **hparams) -> LoLModel:
    """A fresh (unfitted) model; unknown hparams raise a ValueError listing the valid ones.
    magnitudes=True: it also takes DoRA magnitude vectors (lolzoo.lol.magnitudes)."""
    return model_class(kind)(shapes, rank, out_dim, magnitudes=magnitudes, **hparams)


def model_from_config(config: Mapping) -> LoLModel:
    """Inverse of model.config(): the same architecture, fresh weights (load the state dict next)."""
    missing = [k for k in CONFIG_KEYS[:4] if k not in config]
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if missing or unknown:
        raise ValueError(f"a model config has keys {list(CONFIG_KEYS)} (hparams and magnitudes optional); "
                         f"missing {missing}, unknown {unknown}")
    return build_model(config["kind"], config["shapes"], config["rank"], config["out_dim"],
                       bool(config.get("magnitudes", False)), **config.get("hparams", {}))
