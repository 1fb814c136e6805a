"""`lolzoo reliability`: a packed zoo (the first measurement) and a re-measurement's label files
give every label a row: measured labels a reliability and noise ceiling with intervals that hold
the truth, data labels "exact", and clear one-line errors for what is missing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lolzoo.cli import main
from lolzoo.lora.testing import language_like_lora
from lolzoo.report.reliability import Reliability
from lolzoo.report.reliability_table import EXACT_WHY
from lolzoo.zoo import pack_zoo

N = 200
TRUE_RELIABILITY = 0.8  # var(true) = 4, var(noise) = 1 per measurement


def measurements(seed: int = 0):
    """A clip_score measured twice with known noise, ARC accuracy in two parallel halves, data labels."""
    rng = np.random.default_rng(seed)
    true = 20.0 + 2.0 * rng.standard_normal(N)
    first, second = true + rng.standard_normal(N), true + rng.standard_normal(N)
    # each half: var(true) 1, var(noise) 1 -> half reliability 0.5, full (Spearman-Brown) 2/3
    arc_true = rng.standard_normal(N)
    even, odd = arc_true + rng.standard_normal(N), arc_true + rng.standard_normal(N)
    return first, second, even, odd


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    first, second, even, odd = measurements()
    ids = [f"celeba-{i:05d}" for i in range(N)]
    labels = pd.DataFrame({"lora_id": ids, "clip_score": first, "arc_c_accuracy": (even + odd) / 2,
                           "Smiling": np.arange(N) % 2, "Male": (np.arange(N) // 2) % 2,
                           "dataset_size": 5 + np.arange(N) % 3})
    entries = [(lora_id, language_like_lora(seed=i)) for i, lora_id in enumerate(ids)]
    zoo = pack_zoo(entries, labels, root / "celeba.parquet", "celeba", None).path
    retest = root / "retest"
    for half, ids_half in (("a", ids[:120]), ("b", ids[120:])):  # two shard folders
        (retest / half).mkdir(parents=True)
        for lora_id in ids_half:
            i = ids.index(lora_id)
            (retest / half / f"{lora_id}.json").write_text(json.dumps(
                {"clip_score": second[i], "arc_c_accuracy_even": even[i], "arc_c_accuracy_odd": odd[i], "Smiling": 0}))
    return root, zoo, retest


def reliability(zoo, retest, out, *flags) -> int:
    return main(["reliability", "--zoo", str(zoo), "--retest", *map(str, retest), *flags, "--out", str(out)])


def test_json_holds_every_label_with_known_reliability_in_its_interval(world, tmp_path):
    _, zoo, retest = world
    assert reliability(zoo, [retest / "a", retest / "b"], tmp_path / "reliability",
                       "--targets", "clip_score,Smiling,Ma*,dataset_size", "--seeds", "42,43", "--resamples", "500") == 0
    report = json.loads((tmp_path / "reliability.json").read_text())
    assert report["zoo"] == "celeba" and report["sample"] == N and report["seeds"] == {"first": 42, "second": 43}
    labels = report["labels"]
    assert set(labels) == {"clip_score", "arc_c_accuracy", "Smiling", "Male", "dataset_size"}
    clip = labels["clip_score"]
    assert clip["status"] == "measured" and clip["method"].startswith("test-retest") and clip["n"] == N
    assert clip["reliability_low"] <= TRUE_RELIABILITY <= clip["reliability_high"]
    assert clip["ceiling_r2"] == pytest.approx(clip["reliability"])
    assert clip["ceiling_tau"] == pytest.approx(2 / np.pi * np.arcsin(np.sqrt(clip["reliability"])))
    arc = labels["arc_c_accuracy"]
    assert arc["status"] == "measured" and arc["method"].startswith("split-half")
    assert arc["reliability_low"] <= 2 / 3 <= arc["reliability_high"]
    for label in ("Smiling", "Male", "dataset_size"):  # a retest file's copy of a data label changes nothing
        assert labels[label] == {"status": "exact", "why": EXACT_WHY}
    # the measured entries are the library's Reliability, field for field (contract 18 B)
    assert Reliability(**{k: v for k, v in clip.items() if k != "status"}).to_dict() == {
        k: v for k, v in clip.items() if k != "status"}
    table = pd.read_csv(tmp_path / "reliability.csv")
    assert table["label"].tolist() == ["clip_score", "arc_c_accuracy", "Smiling", "Male", "dataset_size"]
    assert table.loc[0, "reliability"] == pytest.approx(clip["reliability"]) and table.loc[0, "n"] == N
    markdown, page = (tmp_path / "reliability.md").read_text(), (tmp_path / "reliability.html").read_text()
    assert "exact (a data label: fixed by construction)" in markdown and "<td>Smiling</td>" in page
    assert "evaluation seed 42" in markdown and "indicative only" not in markdown  # n = 200


def test_a_small_sample_is_indicative_and_a_constant_label_unmeasured(world, tmp_path):
    root, zoo, _ = world
    retest = tmp_path / "few"
    retest.mkdir()
    first, second, *_ = measurements()
    for i in range(8):
        (retest / f"celeba-{i:05d}.json").write_text(json.dumps({"clip_score": second[i], "arc_c_accuracy": 0.25}))
    assert reliability(zoo, [retest], tmp_path / "r", "--min-loras", "5") == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["seeds"] is None and report["sample"] == 8
    assert report["labels"]["clip_score"]["status"] == "measured" and report["labels"]["clip_score"]["n"] == 8
    assert report["labels"]["arc_c_accuracy"] == {"status": "unmeasured",
                                                  "why": "second is constant (0.25): its correlation is undefined"}
    assert "indicative only (n < 30)" in (tmp_path / "r.md").read_text()
    # the default floor (30) refuses 8 LoRAs, and says why in the row
    assert reliability(zoo, [retest], tmp_path / "s") == 0
    assert "at least 30 LoRAs" in json.loads((tmp_path / "s.json").read_text())["labels"]["clip_score"]["why"]


def test_a_label_without_a_second_measurement_is_unmeasured(world, tmp_path):
    _, zoo, _ = world
    (tmp_path / "retest").mkdir()
    (tmp_path / "retest" / "celeba-00000.json").write_text(json.dumps({"clip_score": 1.0}))
    assert reliability(zoo, [tmp_path / "retest"], tmp_path / "r", "--min-loras", "3") == 0
    labels = json.loads((tmp_path / "r.json").read_text())["labels"]
    assert labels["arc_c_accuracy"] == {"status": "unmeasured", "why": "no second measurement of it in the retest files"}


@pytest.mark.parametrize("case, message", [
    ("missing", "--retest {tmp}/nowhere: no such retest file or folder"),
    ("empty", "--retest {tmp}/empty: holds no <lora_id>.json label file"),
    ("stranger", "retest LoRA celeba-99999 is not in zoo celeba"),
    ("target", "--targets Bald: the zoo has no such column"),
    ("pattern", "--targets class_*: no label column of the zoo matches it"),
    ("json", "{tmp}/bad/celeba-00001.json: not a JSON label file"),
    ("seeds", "--seeds 42: two integers like 42,43"),
])
def test_errors_are_one_line_and_write_nothing(world, tmp_path, capsys, case, message):
    _, zoo, retest = world
    paths, flags = [retest / "a"], []
    if case == "missing":
        paths = [tmp_path / "nowhere"]
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        paths = [tmp_path / "empty"]
    elif case == "stranger":
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "celeba-99999.json").write_text("{}")
        paths = [retest / "a", tmp_path / "x"]
    elif case in ("target", "pattern"):
        flags = ["--targets", "Bald" if case == "target" else "class_*"]
    elif case == "json":
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "celeba-00001.json").write_text("{not json")
        paths = [tmp_path / "bad"]
    else:
        flags = ["--seeds", "42"]
    assert reliability(zoo, paths, tmp_path / "out" / "r", *flags) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message.format(tmp=tmp_path) in err
    assert not (tmp_path / "out").exists()
