"""`lolzoo build-base`: writes a loadable untrained base folder, atomically."""

import json

import pytest
import torch

from lolzoo.bases.tiny_clip import load_tiny_clip
from lolzoo.bases.tiny_sd import load_tiny_sd
from lolzoo.cli import main


def test_build_tiny_sd_folder_loads_offline(tmp_path):
    out = tmp_path / "sd"
    assert main(["build-base", "--kind", "tiny-sd", "--seed", "3", "--out", str(out)]) == 0
    card = json.loads((out / "base.json").read_text())
    assert card["kind"] == "tiny-sd" and card["seed"] == 3 and card["trained"] is False
    pipeline = load_tiny_sd(out)
    assert sum(p.numel() for p in pipeline.unet.parameters()) == card["parameters"]["unet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_build_tiny_clip_folder_loads(tmp_path):
    out = tmp_path / "clip"
    assert main(["build-base", "--kind", "tiny-clip", "--seed", "0", "--out", str(out)]) == 0
    clip = load_tiny_clip(out)
    assert clip.clip_score(torch.rand(1, 3, 32, 32), ["a person"]).shape == (1,)


def test_refuses_to_replace_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["build-base", "--kind", "tiny-clip", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_unknown_kind_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:  # argparse: the exit status is 2, the reason on stderr
        main(["build-base", "--kind", "sd-xl", "--out", "x"])
    assert exit_info.value.code == 2
    assert "argument --kind: invalid choice: 'sd-xl'" in capsys.readouterr().err
