"""A dataset or model card's text: YAML front matter between `---` lines, then Markdown.

Shared by the zoo card and the model card, so both render and parse their front matter the same way.
"""

from __future__ import annotations

import yaml

from lolzoo.errors import LolzooError

FENCE = "---"


class CardError(LolzooError):
    """A card without front matter, or whose front matter is not a YAML mapping."""


def front_matter(data: dict) -> str:
    """`---\\n<YAML>---\\n`, keys in the order given (the hub shows them as written)."""
    return f"{FENCE}\n{yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)}{FENCE}\n"


def split_card(text: str, source: str) -> tuple[dict, str]:
    """(front matter as a dict, the Markdown body); CardError naming `source` otherwise."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        raise CardError(f"{source}: no YAML front matter (the card must start with a '{FENCE}' line)")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == FENCE), None)
    if end is None:
        raise CardError(f"{source}: the YAML front matter is not closed by a '{FENCE}' line")
    try:
        data = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as err:
        raise CardError(f"{source}: the front matter is not valid YAML ({' '.join(str(err).split())})") from err
    if not isinstance(data, dict):
        raise CardError(f"{source}: the front matter is not a YAML mapping")
    return data, "".join(lines[end + 1:])


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; `|` inside a cell is escaped."""
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# the paper whose zoos and models lolzoo reproduces: both cards ask to cite it
LOL_BIBTEX = """@inproceedings{putterman2025lol,
  title     = {Learning on LoRAs: GL-Equivariant Processing of Low-Rank Weight Spaces for Large Finetuned Models},
  author    = {Putterman, Theo and Lim, Derek and Gelberg, Yoav and Bronstein, Michael and Jegelka, Stefanie and Maron, Haggai},
  booktitle = {Learning on Graphs Conference (LoG)},
  year      = {2025}
}"""
