"""lolzoo: zoos of LoRAs and the LoL models that learn on them.

One sub-package per stage of the flow of data, from a config to the report. `STAGES` below
states their order, the one place it is written; imports point down it and never back up or
in a circle (tests/test_import_flow.py checks every import, lazy ones included).
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
    ("publish", ("publish",)),
    ("dispatch", ("cli", "__main__")),
)
SIBLINGS = frozenset({"diffusion", "language", "synthetic"})
