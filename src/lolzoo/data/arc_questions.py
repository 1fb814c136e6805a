"""ARC questions as every stage reads them, and the one prompt format they all share.

A format shared by data prep, the LM base and the language stage, so it lives in the lowest
of them (data).

A prepared ARC folder (written by `lolzoo prepare-arc`, read by pretraining, finetuning and
evaluation) holds `train.jsonl`, `validation.jsonl` and `test.jsonl`, one question per line:
    {"id": "Mercury_7175875", "source": "Mercury", "question": "...",
     "choices": ["...", "..."], "labels": ["A", "B", ...], "answer": 2}
`answer` indexes `choices`. ARC is CC BY-SA 4.0 (Allen Institute for AI).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lolzoo.errors import LolzooError

SPLITS = ("train", "validation", "test")
CHANCE = 0.25  # most ARC questions have four choices
MERCURY = "Mercury"


@dataclass(frozen=True)
class ArcQuestion:
    id: str
    source: str
    question: str
    choices: tuple[str, ...]
    labels: tuple[str, ...]
    answer: int

    def __post_init__(self):
        if len(self.choices) < 2 or len(self.choices) != len(self.labels):
            raise LolzooError(f"ARC question {self.id}: {len(self.choices)} choices but {len(self.labels)} labels")
        if not 0 <= self.answer < len(self.choices):
            raise LolzooError(f"ARC question {self.id}: answer {self.answer} is not one of its {len(self.choices)} choices")

    @classmethod
    def from_dict(cls, row: dict) -> "ArcQuestion":
        try:
            return cls(id=str(row["id"]), source=str(row["source"]), question=str(row["question"]),
                       choices=tuple(map(str, row["choices"])), labels=tuple(map(str, row["labels"])),
                       answer=int(row["answer"]))
        except (KeyError, TypeError, ValueError) as error:
            raise LolzooError(f"malformed ARC question {row.get('id', '?') if isinstance(row, dict) else row!r}: {error}") from None

    def to_dict(self) -> dict:
        row = asdict(self)
        row["choices"], row["labels"] = list(self.choices), list(self.labels)
        return row


def source_of(question_id: str) -> str:
    """A question's source is the prefix of its id: 'MCAS_2000_4_6' -> 'MCAS'. Both Mercury id
    families ('Mercury_7175875', 'Mercury_SC_400987') are Mercury. A few CSZ ids have no
    underscore ('CSZ20228', next to 'CSZ_2009_8_CSZ30585'): digits ending the prefix are dropped."""
    prefix = question_id.split("_", 1)[0]
    return prefix.rstrip("0123456789") or prefix


def prompt(question: ArcQuestion) -> str:
    """The context every stage scores or trains a choice after (the answer follows a space)."""
    return f"Question: {question.question}\nAnswer:"


def continuation(choice: str) -> str:
    return f" {choice}"


def read_split(folder: str | Path, split: str) -> list[ArcQuestion]:
    path = Path(folder) / f"{split}.jsonl"
    if split not in SPLITS:
        raise LolzooError(f"unknown ARC split {split!r}: expected one of {', '.join(SPLITS)}")
    if not path.is_file():
        raise LolzooError(f"{path}: missing; prepare the ARC data first (lolzoo prepare-arc)")
    questions = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise LolzooError(f"{path}:{number}: not JSON ({error.msg})") from None
                questions.append(ArcQuestion.from_dict(row))
    return questions


def write_split(questions: list[ArcQuestion], path: str | Path) -> None:
    from lolzoo.io import atomic_file

    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for question in questions:
            out.write(json.dumps(question.to_dict(), ensure_ascii=False) + "\n")


def without_sources(questions: list[ArcQuestion], dropped: set[str]) -> list[ArcQuestion]:
    """The questions a LoRA finetunes on: all but those of its dropped sources (Mercury is never
    dropped: the recipe sampler never lists it)."""
    return [q for q in questions if q.source not in dropped]


def sample(questions: list[ArcQuestion], limit: int | None, seed: int) -> list[ArcQuestion]:
    """At most `limit` of the questions, a seeded choice kept in split order (None: all of them)."""
    if limit is None or len(questions) <= limit:
        return list(questions)
    import numpy as np

    keep = np.sort(np.random.default_rng([seed, 5]).choice(len(questions), size=limit, replace=False))
    return [questions[i] for i in keep]
