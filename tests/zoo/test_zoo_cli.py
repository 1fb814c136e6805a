"""`lolzoo pack` on a folder of real adapter files, and `lolzoo synthetic-zoo`."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from lolzoo.cli import main
from lolzoo.lora import write_kohya, write_peft
from lolzoo.lora.testing import random_lora
from lolzoo.zoo import load_zoo, read_zoo_info

SHAPES = {"model.layers.0.self_attn.k_proj": (8, 12), "model.layers.0.self_attn.v_proj": (8, 12),
          "model.layers.1.self_attn.k_proj": (8, 12)}


@pytest.fixture
def lora_folder(tmp_path):
    folder = tmp_path / "loras"
    folder.mkdir()
    loras = {}
    for i in range(4):
        lora_id = f"arc-{i:05d}"
        loras[lora_id] = random_lora(SHAPES, rank=2 + 2 * (i % 2), seed=i, alpha=8.0, base_model="tiny-qwen")
        write_peft(loras[lora_id], folder / lora_id)
    (folder / ".partial").mkdir()  # a hidden leftover is not a LoRA
    labels = pd.DataFrame({"lora_id": list(loras), "val_loss": [1.5, 1.25, 1.0, 0.75], "src_MCAS": [1, 0, 1, 0]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    return folder, loras


def test_pack_peft_folders(tmp_path, lora_folder, capsys):
    folder, loras = lora_folder
    recipes = pd.DataFrame({"zoo": ["arc"] * 5 + ["celeba"], "lora_id": [*loras, "arc-00099", "celeba-00000"],
                            "lr": [1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4], "rank": [2, 4, 2, 4, 2, 4]})
    recipes.to_csv(tmp_path / "recipes.csv", index=False)
    out = tmp_path / "zoo.parquet"
    code = main(["pack", "--loras", str(folder), "--labels", str(tmp_path / "labels.csv"),
                 "--recipes", str(tmp_path / "recipes.csv"), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "packed 4 LoRAs" in capsys.readouterr().out
    info = read_zoo_info(out)
    assert (info.zoo, info.base_model) == ("arc", "tiny-qwen")  # from these LoRAs' recipes and the adapters
    zoo = load_zoo(out)
    assert zoo.lora_ids == list(loras)  # "arc-00000" stays a string id
    assert zoo.table["val_loss"].tolist() == [1.5, 1.25, 1.0, 0.75]
    assert zoo.table["lr"].tolist() == [1e-4, 2e-4, 3e-4, 4e-4]
    for row, lora in enumerate(loras.values()):
        for k, module in enumerate(lora.modules):
            torch.testing.assert_close(zoo.delta(row, k), module.delta(), rtol=1e-6, atol=1e-7)


def test_pack_reads_safetensors_files_with_the_suffix_dropped(tmp_path):
    folder = tmp_path / "loras"
    folder.mkdir()
    lora = random_lora({"down.0.to_q": (6, 6)}, rank=2, component="unet", seed=1)
    write_kohya(lora, folder / "celeb-00003.safetensors")
    out = tmp_path / "zoo.parquet"
    assert main(["pack", "--loras", str(folder), "--out", str(out), "--zoo", "celeb", "--base-model", "sd14"]) == 0
    zoo = load_zoo(out)
    assert zoo.lora_ids == ["celeb-00003"] and zoo.info.base_model == "sd14"
    torch.testing.assert_close(zoo.delta(0, 0), lora.modules[0].delta(), rtol=1e-6, atol=1e-7)


def test_pack_missing_labels_is_one_error_line_unless_allowed(tmp_path, lora_folder, capsys):
    folder, loras = lora_folder
    pd.DataFrame({"lora_id": list(loras)[:2], "val_loss": [1.0, 2.0]}).to_csv(tmp_path / "few.csv", index=False)
    out = tmp_path / "zoo.parquet"
    args = ["pack", "--loras", str(folder), "--labels", str(tmp_path / "few.csv"), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 LoRAs have no label row: 'arc-00002', 'arc-00003'" in err and err.count("\n") == 1
    assert not out.exists()
    assert main(args + ["--allow-missing-labels"]) == 0
    assert load_zoo(out).table["val_loss"].isna().tolist() == [False, False, True, True]


def test_pack_refuses_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["pack", "--loras", str(tmp_path / "empty"), "--out", str(tmp_path / "z.parquet")]) == 2
    assert "holds no LoRA" in capsys.readouterr().err


def test_synthetic_zoo_cli(tmp_path, capsys):
    out = tmp_path / "syn.parquet"
    assert main(["synthetic-zoo", "--out", str(out), "--count", "10", "--seed", "3", "--ranks", "2,4",
                 "--reparametrise"]) == 0
    zoo = load_zoo(out)
    assert len(zoo) == 10 and set(zoo.table["rank"]) <= {2, 4}
    assert zoo.info.extra["synthetic"]["reparametrise"] is True
    assert main(["synthetic-zoo", "--out", str(out), "--count", "0"]) == 2
