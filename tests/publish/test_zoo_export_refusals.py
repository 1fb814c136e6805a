"""A damaged, incomplete or mismatched export is refused with one line naming the file."""

from __future__ import annotations

import pytest

from lolzoo.cli import main
from tests.publish.export_helpers import write_zoo


@pytest.fixture
def exported(tmp_path):
    zoo = write_zoo(tmp_path / "zoo.parquet", count=12)
    assert main(["export", str(zoo), "--out", str(tmp_path / "export")]) == 0
    return tmp_path / "export"


def refused(capsys, folder, out) -> str:
    assert main(["import-zoo", str(folder), "--out", str(out)]) == 2
    assert not out.exists()
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("lolzoo import-zoo: error:")
    return error


def test_an_intact_export_imports(exported, tmp_path):
    assert main(["import-zoo", str(exported), "--out", str(tmp_path / "back.parquet")]) == 0


def test_damaged_shard_bytes(exported, tmp_path, capsys):
    shard = sorted((exported / "data").glob("train-*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    error = refused(capsys, exported, tmp_path / "back.parquet")
    assert shard.name in error and "sha256" in error


def test_missing_card(exported, tmp_path, capsys):
    (exported / "README.md").unlink()
    assert "README.md" in refused(capsys, exported, tmp_path / "back.parquet")


def test_card_whose_hashes_do_not_match(exported, tmp_path, capsys):
    card = exported / "README.md"
    text = card.read_text()
    card.write_text(text.replace("ab" * 32, "ef" * 32))
    assert "base sha256" in refused(capsys, exported, tmp_path / "back.parquet")
    shard = sorted((exported / "data").glob("*.parquet"))[0]
    listed = next(line for line in text.splitlines() if shard.name in line and "sha256" in line)
    digest = listed.split("sha256: ")[1].strip(" }")
    card.write_text(text.replace(digest, "0" * 64))
    assert shard.name in refused(capsys, exported, tmp_path / "back.parquet")


def test_extra_unlisted_shard(exported, tmp_path, capsys):
    first = sorted((exported / "data").glob("*.parquet"))[0]
    (exported / "data" / "train-00099-of-00100.parquet").write_bytes(first.read_bytes())
    assert "train-00099-of-00100.parquet" in refused(capsys, exported, tmp_path / "back.parquet")


def test_out_exists(exported, tmp_path, capsys):
    zoo = tmp_path / "zoo.parquet"
    assert main(["export", str(zoo), "--out", str(exported)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", str(zoo), "--out", str(exported), "--overwrite"]) == 0
    assert main(["import-zoo", str(exported), "--out", str(zoo)]) == 2
    assert "exists" in capsys.readouterr().err


def test_another_export_format(exported, tmp_path, capsys, monkeypatch):
    """An export of another format (1: per-module Array2D columns, α/r folded) is refused, not misread."""
    from lolzoo.publish import export_check

    monkeypatch.setattr(export_check, "EXPORT_FORMAT_VERSION", 3)
    error = refused(capsys, exported, tmp_path / "back.parquet")
    assert "export format 2" in error and "export the zoo again" in error
