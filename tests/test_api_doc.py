"""docs/api.md is a runnable script: its `python` blocks, in order, must run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.slow
def test_the_api_page_runs_top_to_bottom(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(API_DOC.read_text())
    assert len(blocks) >= 6  # config, train, resume, sample, evaluate, own nets and techniques
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    namespace: dict = {"__name__": "api_doc"}
    exec(compile("\n".join(blocks), str(API_DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "did you mean 'steps'" in printed
    assert (tmp_path / "digits.png").stat().st_size > 0
    assert (tmp_path / "runs" / "digits" / "evals" / "step-00000030-digits-classifier.json").exists()
    assert namespace["record"]["metrics"]["fid"] > 0
