"""`lolzoo inspect` and `lolzoo convert`, run through the real dispatcher."""

import json

from lolzoo.cli import main
from lolzoo.lora import read_lora, write_kohya, write_peft
from lolzoo.lora.testing import assert_same_lora


def test_inspect_describes_each_lora_and_reports_refused_files(tmp_path, capsys, pipeline_lora, language_lora):
    write_peft(pipeline_lora, tmp_path / "peft")
    write_kohya(language_lora, tmp_path / "k.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    code = main(["inspect", str(tmp_path / "peft"), str(tmp_path / "bad.safetensors"), str(tmp_path / "k.safetensors")])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'peft'}: peft  modules=4 (1 conv) [text_encoder 1, unet 3]  ranks=2,3,4  "
                               "alphas=1.5,4,8  params=244")
    assert lines[1].startswith(f"{tmp_path / 'k.safetensors'}: kohya  modules=6 [model 6]  ranks=4  alphas=16")
    assert err == f"error: {tmp_path / 'bad.safetensors'}: not a valid safetensors file: the file has 4 bytes, " \
                  "fewer than the 8-byte header length\n"


def test_inspect_json(tmp_path, capsys, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "peft")
    assert main(["inspect", "--json", str(tmp_path / "peft")]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report == {"path": str(tmp_path / "peft"), "format": "peft", "base_model": "tiny-sd", "modules": 4,
                      "components": {"text_encoder": 1, "unet": 3}, "conv_modules": 1, "ranks": [2, 3, 4],
                      "alphas": [1.5, 4.0, 8.0], "parameters": pipeline_lora.num_parameters, "dtypes": ["float32"]}


def test_inspect_pickle_needs_the_flag(tmp_path, capsys):
    import torch
    torch.save({"lora_unet_a.lora_down.weight": torch.ones(2, 3), "lora_unet_a.lora_up.weight": torch.ones(3, 2)},
               tmp_path / "a.pt")
    assert main(["inspect", str(tmp_path / "a.pt")]) == 1
    assert "--allow-pickle" in capsys.readouterr().err
    assert main(["inspect", "--allow-pickle", "--json", str(tmp_path / "a.pt")]) == 0
    assert json.loads(capsys.readouterr().out)[0]["alphas"] == [None]


def test_convert_each_format(tmp_path, capsys, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "src")
    for fmt, dest in (("kohya", "k.safetensors"), ("diffusers", "d"), ("peft", "p")):
        assert main(["convert", str(tmp_path / "src"), "--to", fmt, "--out", str(tmp_path / dest)]) == 0
        assert_same_lora(pipeline_lora, read_lora(tmp_path / dest))
    assert "(peft, 4 modules)" in capsys.readouterr().out


def test_convert_refuses_to_clobber_and_reports_bad_input(tmp_path, capsys, pipeline_lora):
    write_peft(pipeline_lora, tmp_path / "src")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert main(["convert", str(tmp_path / "src"), "--to", "peft", "--out", str(tmp_path / "taken")]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "src"), "--to", "peft", "--out", str(tmp_path / "taken"), "--overwrite"]) == 0
    assert main(["convert", str(tmp_path / "missing"), "--to", "kohya", "--out", str(tmp_path / "k.safetensors")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_inspect_error_line_names_the_path_once(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert main(["inspect", f"{folder}/"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {folder}: unknown layout")
