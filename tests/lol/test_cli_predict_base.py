"""`lolzoo predict` refuses a LoRA that declares another base than the model's zoo (issue 21)."""

from __future__ import annotations

from dataclasses import replace

from lolzoo.lora import write_peft
from lolzoo.synthetic.generator import BASE_MODEL, synthetic_lora
from tests.small_zoo import small_zoo_spec

COUNT = 40
KINDS = ("glnet",)
FIT_FLAGS = ("--epochs", 1, "--hparam", "hidden=[8]")


def lora_declaring(tmp_path, base: str | None):
    path = tmp_path / "lora"
    write_peft(replace(synthetic_lora(small_zoo_spec(COUNT), 0), base_model=base), path, base_model=base)
    return path


def test_another_declared_base_is_refused_with_the_reason(fitted, tmp_path, predict_jsonl):
    code, lines, err = predict_jsonl("--model", fitted / "glnet", lora_declaring(tmp_path, "runwayml/stable-diffusion-v1-5"))
    assert code == 1 and lines == []
    assert "declares base 'runwayml/stable-diffusion-v1-5'" in err and repr(BASE_MODEL) in err
    assert "--any-base" in err and "scored 0, refused 1" in err


def test_any_base_scores_it_with_a_notice(fitted, tmp_path, predict_jsonl):
    code, lines, err = predict_jsonl("--model", fitted / "glnet", "--any-base",
                                     lora_declaring(tmp_path, "runwayml/stable-diffusion-v1-5"))
    assert code == 0 and len(lines) == 1
    assert any("scored anyway" in notice for notice in lines[0]["notices"])


def test_the_same_base_a_location_or_none_is_scored(fitted, tmp_path, predict_jsonl):
    for i, base in enumerate((BASE_MODEL, BASE_MODEL.upper(), "results/bases/lm", "/models/sd14", None)):
        code, lines, err = predict_jsonl("--model", fitted / "glnet", lora_declaring(tmp_path / str(i), base))
        assert code == 0 and len(lines) == 1 and lines[0]["notices"] == [], (base, err)


def test_the_model_names_the_zoo_file_it_was_trained_on(fitted, zoo_path):
    import hashlib
    import json

    zoo = json.loads((fitted / "glnet" / "model.json").read_text())["zoo"]
    assert zoo["sha256"] == hashlib.sha256(zoo_path.read_bytes()).hexdigest()
    assert zoo["base_model"] == BASE_MODEL and "provenance" in zoo


def test_the_refusal_names_the_base_weights_hash_when_the_zoo_recorded_it():
    from types import SimpleNamespace

    from lolzoo.lol.predict import base_problem

    trained = SimpleNamespace(info={"zoo": {"base_model": "CompVis/stable-diffusion-v1-4",
                                            "provenance": {"base": {"sha256": "0123456789ab" + "0" * 52}}}})
    problem = base_problem(trained, "stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert "weights sha256 0123456789ab" in problem
    assert base_problem(trained, "compvis/stable-diffusion-v1-4/") is None
