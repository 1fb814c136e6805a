"""lolzoo: zoos of LoRAs and the LoL models that learn on them.

The package is laid out as the stages of one flow of data (docs and DESIGN: config, recipes,
data, base models, the finetuning stages, the Parquet zoo, LoL models, the report). `STAGES`
states that order; imports point down it and never back (tests/test_import_flow.py checks).
"""

__version__ = "0.1.0"

# The stages of the flow, lowest first, each with the top-level modules and packages of lolzoo
# it holds. A module imports only from its own stage or a lower one. Sibling stages (SIBLINGS)
# are alternatives that make zoos side by side, not a chain: they import none of each other.
# A new top-level module or package goes into one of these stages.
STAGES = (
    ("underneath", ("__init__", "errors", "io", "lora", "runtime")),
    ("config", ("config",)),
    ("recipes", ("recipes",)),
    ("data", ("data",)),
    ("bases", ("bases",)),
    ("diffusion", ("diffusion",)),
    ("language", ("language",)),
    ("synthetic", ("synthetic",)),
    ("zoo", ("zoo",)),
    ("lol", ("lol",)),
    ("report", ("report",)),
    ("dispatch", ("cli", "__main__")),
)
SIBLINGS = frozenset({"diffusion", "language", "synthetic"})
