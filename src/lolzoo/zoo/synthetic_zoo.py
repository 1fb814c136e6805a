"""A whole synthetic zoo in one Parquet file: lolzoo.synthetic's LoRAs and labels, packed.

Here in the zoo stage, not in lolzoo.synthetic, because packing is this stage's job.
"""

from __future__ import annotations

import os

from lolzoo.synthetic.generator import BASE_MODEL, SyntheticZooSpec, synthetic_labels, synthetic_loras, synthetic_tasks
from lolzoo.zoo.pack import PackSummary, pack_zoo


def write_synthetic_zoo(out_path: str | os.PathLike, spec: SyntheticZooSpec, zoo_name: str = "synthetic",
                        **pack_options) -> PackSummary:
    """Labels first (one pass), then the LoRAs are generated again and streamed into pack_zoo."""
    labels = synthetic_labels(spec)  # regenerating is cheap and keeps memory to one row group
    extra = {
        "synthetic": {"count": spec.count, "seed": spec.seed, "ranks": list(spec.ranks),
                      "reparametrise": spec.reparametrise, "alpha": spec.alpha},
        "tasks": synthetic_tasks(len(spec.shapes)),
        "num_classes": {"dominant_module": len(spec.shapes)},
    }
    return pack_zoo(synthetic_loras(spec), labels, out_path, zoo_name, BASE_MODEL,
                    extra_metadata=extra, **pack_options)

