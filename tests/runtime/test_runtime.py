"""The progress bar is for people at a terminal: off in CI and in job logs."""

import io

from lolzoo import runtime


def test_progress_is_off_when_ci_is_true_even_on_a_terminal(monkeypatch):
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr(runtime.sys, "stderr", terminal)
    monkeypatch.setenv("CI", "false")
    assert runtime.progress_enabled()
    monkeypatch.setenv("CI", "true")
    assert not runtime.progress_enabled()
    with runtime.progress(3, "x") as bar:
        assert bar.disable


def test_progress_is_off_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(runtime.sys, "stderr", io.StringIO())
    monkeypatch.delenv("CI", raising=False)
    assert not runtime.progress_enabled()


def test_device_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(runtime.torch.cuda, "is_available", lambda: False)
    assert runtime.pick_device().type == "cpu"


def test_device_is_cuda_when_torch_sees_a_gpu(monkeypatch):
    # no GPU needed: the chooser asks torch, and torch is told there is one
    monkeypatch.setattr(runtime.torch.cuda, "is_available", lambda: True)
    assert runtime.pick_device() == runtime.torch.device("cuda")


def test_the_job_clis_place_their_models_on_the_picked_device(monkeypatch):
    """Every job that finetunes or evaluates asks pick_device (none hard-codes the CPU)."""
    import inspect

    from lolzoo.diffusion import evaluate_cli as diffusion_evaluate
    from lolzoo.diffusion import finetune_cli as diffusion_finetune
    from lolzoo.language import evaluate_cli as language_evaluate
    from lolzoo.language import finetune_cli as language_finetune
    from lolzoo.report import extremes_figure_cli

    for module in (diffusion_finetune, diffusion_evaluate, language_finetune, language_evaluate, extremes_figure_cli):
        source = inspect.getsource(module.run)
        assert "pick_device()" in source and '"cpu"' not in source, module.__name__


def test_fp32_is_no_autocast_at_all_and_half_precisions_autocast_on_the_device():
    import contextlib

    torch = runtime.torch
    assert isinstance(runtime.autocast(torch.device("cpu"), "fp32"), contextlib.nullcontext)
    assert runtime.weight_dtype("fp32") is None
    assert runtime.weight_dtype("fp16") is torch.float16 and runtime.weight_dtype("bf16") is torch.bfloat16
    with runtime.autocast(torch.device("cpu"), "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype is torch.bfloat16
    assert runtime.needs_loss_scaling("fp16") and not runtime.needs_loss_scaling("bf16")


def test_fp16_on_a_cpu_gets_a_note_naming_the_key():
    torch = runtime.torch
    assert "zoos.<zoo>.precision" in runtime.precision_note(torch.device("cpu"), "fp16")
    assert runtime.precision_note(torch.device("cpu"), "bf16") is None
    assert runtime.precision_note(torch.device("cuda"), "fp16") is None
