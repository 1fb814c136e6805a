"""`lolzoo predict` on LoRAs as people download them: many paths and folders, kohya files,
text-encoder parts, other bases, other ranks, pickles; its csv and table output; exit codes."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pandas as pd
import pytest
import torch

from lolzoo.cli import main
from lolzoo.lol.predict import pad_rank
from lolzoo.lora import Lora, LoraModule, read_lora, write_kohya, write_peft
from lolzoo.lora.testing import random_lora
from lolzoo.synthetic.generator import synthetic_lora
from tests.small_zoo import fit_small, small_zoo_spec

COUNT = 60
KINDS = ("mlp", "o-align", "svd", "dense", "glnet")
RANK_AGNOSTIC = ("svd", "dense", "glnet")
FIT_FLAGS = ("--epochs", 1, "--hparam", "hidden=[8]")


@pytest.fixture(scope="module")
def fitted(fitted, zoo_path):
    """A regression fit of every kind (tests/lol/conftest.py) and a multilabel GL-net, one epoch each."""
    fit_small(zoo_path, fitted / "multilabel", "glnet", "--epochs", 1, task="multilabel", target="positive_functional_*")
    return fitted


def zoo_lora(index: int, rank: int = 4) -> Lora:
    return synthetic_lora(small_zoo_spec(COUNT, ranks=(rank,)), index)


def predict(capsys, *args) -> tuple[int, str, list[str]]:
    code = main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def jsonl(capsys, *args) -> tuple[int, list[dict], list[str]]:
    code, out, err = predict(capsys, *args)
    return code, [json.loads(line) for line in out.splitlines()], err


def test_many_paths_and_folders_walked_recursively(fitted, tmp_path, capsys):
    downloads = tmp_path / "downloads"
    first = write_peft(zoo_lora(1), downloads / "civit" / "first")
    (downloads / "hub").mkdir()
    second = write_kohya(zoo_lora(2), downloads / "hub" / "second.safetensors")
    (downloads / "hub" / "README.md").write_text("not a LoRA")
    alone = write_peft(zoo_lora(3), tmp_path / "alone")
    code, lines, err = jsonl(capsys, "--model", fitted / "glnet", downloads, alone)
    assert code == 0 and err == ["lolzoo predict: scored 3, refused 0"]
    assert [line["path"] for line in lines] == [str(first), str(second), str(alone)]
    line = lines[0]
    assert set(line) == {"path", "model", "kind", "task", "prediction", "notices", "seconds"}
    assert (line["model"], line["kind"], line["task"], line["notices"]) == (str(fitted / "glnet"), "glnet",
                                                                            "regression", [])
    assert isinstance(line["prediction"], float) and 0 < line["seconds"] < 10


@pytest.mark.parametrize("kind", ["mlp", "glnet"])
def test_a_kohya_file_scores_as_the_peft_folder_it_was_converted_from(fitted, tmp_path, capsys, kind):
    peft = write_peft(zoo_lora(4), tmp_path / "peft")
    kohya = write_kohya(read_lora(peft), tmp_path / "converted.safetensors")
    code, (from_peft, from_kohya), _ = jsonl(capsys, "--model", fitted / kind, peft, kohya)
    assert code == 0 and from_kohya["prediction"] == from_peft["prediction"]  # the same float32 weights and alpha


def test_a_text_encoder_part_is_dropped_with_a_notice(fitted, tmp_path, capsys):
    lora = zoo_lora(5)
    text_encoder = [LoraModule("text_encoder", f"text_model.encoder.layers.{k}.self_attn.q_proj",
                               torch.randn(5, 4), torch.randn(5, 4), 4.0) for k in range(2)]
    with_te = write_kohya(Lora([*lora.modules, *text_encoder]), tmp_path / "with_te.safetensors")
    without = write_kohya(lora, tmp_path / "unet_only.safetensors")
    code, (line_te, line_plain), err = jsonl(capsys, "--model", fitted / "dense", with_te, without)
    assert code == 0 and line_te["prediction"] == line_plain["prediction"]
    notice = "dropped text_encoder (2 modules): the trained layout does not use that component"
    assert line_te["notices"] == [notice] and line_plain["notices"] == []
    assert f"lolzoo predict: notice {with_te}: {notice}" in err


def test_a_lora_of_another_base_is_refused_with_the_list_and_the_rest_scored(fitted, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    other = write_kohya(random_lora({"blocks.0.attn.q": (6, 5), "blocks.9.extra": (3, 3)}),
                        tmp_path / "in" / "a_other_base.safetensors")
    ours = write_kohya(zoo_lora(6), tmp_path / "in" / "b_ours.safetensors")
    code, lines, err = jsonl(capsys, "--model", fitted / "svd", tmp_path / "in")
    assert code == 1 and [line["path"] for line in lines] == [str(ours)]
    refusal, summary = err
    assert refusal.startswith(f"lolzoo predict: refused {other}: does not match the trained layout (3 modules")
    assert "missing modules (2): blocks_1_mlp_fc; blocks_2_attn_out" in refusal
    assert "modules not in the trained layout (1): blocks_9_extra" in refusal
    assert "shapes differ (1): blocks_0_attn_q is 6x5, trained 6x4" in refusal
    assert summary == "lolzoo predict: scored 1, refused 1"


@pytest.mark.parametrize("kind", KINDS)
def test_rank_rules_per_kind(fitted, tmp_path, capsys, kind):
    low, high = write_peft(zoo_lora(7, rank=2), tmp_path / "rank2"), write_peft(zoo_lora(7, rank=6), tmp_path / "rank6")
    code, lines, err = jsonl(capsys, "--model", fitted / kind, low, high)
    if kind in RANK_AGNOSTIC:
        assert code == 0 and [line["path"] for line in lines] == [str(low), str(high)]
        assert lines[0]["notices"] == [f"rank 2, not the trained zoo's 4: scored anyway ({kind} takes any rank)"]
        # rank 2 is rank 2 zero-padded: the same ΔW, the same prediction
        assert zoo_lora(7, rank=2).modules[0].alpha is None  # scale 1 at any rank: padding keeps ΔW
        padded = Lora([replace(m, U=pad_rank(m.U, 4), V=pad_rank(m.V, 4)) for m in zoo_lora(7, rank=2).modules])
        _, [same], _ = jsonl(capsys, "--model", fitted / kind, write_peft(padded, tmp_path / "padded"))
        assert same["prediction"] == pytest.approx(lines[0]["prediction"], rel=1e-5, abs=1e-6)
    else:
        assert code == 1 and lines == []
        for path, rank in ((low, 2), (high, 6)):
            assert (f"lolzoo predict: refused {path}: rank {rank}, but the {kind} model takes rank 4 only: its input "
                    "size is fixed by the rank of its zoo") in "\n".join(err)


@pytest.mark.parametrize("model", ["glnet", "multilabel"])
def test_csv_and_table_hold_what_jsonl_holds(fitted, tmp_path, capsys, model):
    paths = [write_peft(zoo_lora(k), tmp_path / f"lora{k}") for k in (8, 9)]
    _, records, _ = jsonl(capsys, "--model", fitted / model, *paths)
    code, out, _ = predict(capsys, "--model", fitted / model, "--format", "csv", *paths)
    frame = pd.read_csv(io.StringIO(out), keep_default_na=False)
    labels = ["prediction"] if model == "glnet" else [f"prediction.positive_functional_{k}" for k in range(3)]
    assert code == 0 and list(frame.columns) == ["path", "model", "kind", "task", *labels, "notices", "seconds"]
    assert frame["path"].tolist() == [str(p) for p in paths] and frame["notices"].tolist() == ["", ""]
    for row, record in zip(frame.to_dict("records"), records):
        values = record["prediction"] if isinstance(record["prediction"], dict) else {"": record["prediction"]}
        assert [row[column] for column in labels] == list(values.values())  # CSV keeps every digit
        assert (row["model"], row["kind"], row["task"]) == (record["model"], record["kind"], record["task"])

    code, out, _ = predict(capsys, "--model", fitted / model, "--format", "table", *paths)
    header, *lines = out.splitlines()
    columns = header.split()
    starts = [header.index(f"{name} ") if name != columns[-1] else header.rindex(name) for name in columns]
    table = pd.read_fwf(io.StringIO(out), colspecs=list(zip(starts, [*starts[1:], None])), keep_default_na=False)
    assert code == 0 and list(table.columns) == list(frame.columns) and len(lines) == len(records)
    assert table["path"].tolist() == frame["path"].tolist() and table["notices"].tolist() == ["", ""]
    for column in labels:  # six significant digits, for people
        assert table[column].tolist() == pytest.approx(frame[column].tolist(), rel=1e-5)


def test_exit_codes(fitted, tmp_path, capsys):
    lora = write_peft(zoo_lora(10), tmp_path / "lora")
    assert predict(capsys, "--model", fitted / "glnet", lora)[0] == 0
    other = write_kohya(random_lora({"elsewhere": (3, 3)}), tmp_path / "other.safetensors")
    assert predict(capsys, "--model", fitted / "glnet", lora, other)[0] == 1
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no LoRA here")
    usage_errors = {
        "no such file or folder": ["--model", fitted / "glnet", lora, tmp_path / "absent"],
        "not a trained model folder": ["--model", tmp_path / "empty", lora],
        f"no LoRA files or folders under {tmp_path / 'empty'}": ["--model", fitted / "glnet", tmp_path / "empty"],
    }
    for message, args in usage_errors.items():
        code, out, err = predict(capsys, *args)
        assert (code, out) == (2, "") and len(err) == 1 and err[0].startswith("lolzoo predict: error: ") \
            and message in err[0], (message, err)
    with pytest.raises(SystemExit) as exit_info:  # argparse
        main(["predict", "--model", str(fitted / "glnet"), "--format", "xml", str(lora)])
    assert exit_info.value.code == 2
    assert "lolzoo predict: error: argument --format: invalid choice: 'xml'" in capsys.readouterr().err


def test_pickles_only_with_allow_pickle(fitted, tmp_path, capsys):
    from safetensors.torch import load_file

    kohya = write_kohya(zoo_lora(11), tmp_path / "k.safetensors")
    pickled = tmp_path / "downloads" / "lora.pt"
    pickled.parent.mkdir()
    torch.save(load_file(kohya), pickled)
    code, lines, err = jsonl(capsys, "--model", fitted / "glnet", tmp_path / "downloads")
    assert code == 1 and lines == []
    assert err[0].startswith(f"lolzoo predict: refused {pickled}: refusing to read a pickle file")
    assert "--allow-pickle" in err[0]
    code, [from_pickle], _ = jsonl(capsys, "--model", fitted / "glnet", "--allow-pickle", tmp_path / "downloads")
    _, [from_kohya], _ = jsonl(capsys, "--model", fitted / "glnet", kohya)
    assert code == 0 and from_pickle["prediction"] == from_kohya["prediction"]
