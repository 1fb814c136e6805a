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
