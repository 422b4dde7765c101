"""The sync SDK code is generated from its async source and must not drift from it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_sync_code_is_what_the_source_generates() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_a_hand_edit_of_the_generated_file_is_caught_and_regenerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unasync = _load()
    source, target = unasync.FILES[0]
    copy_source = tmp_path / source.name
    copy_target = tmp_path / target.name
    shutil.copy(source, copy_source)
    shutil.copy(target, copy_target)
    monkeypatch.setattr(unasync, "ROOT", tmp_path)
    monkeypatch.setattr(unasync, "FILES", [(copy_source, copy_target)])
    copy_target.write_text(
        copy_target.read_text(encoding="utf-8").replace("def labels(", "def labels_("),
        encoding="utf-8",
    )

    assert unasync.main(["--check"]) == 1
    assert "def labels_(" in copy_target.read_text(encoding="utf-8")  # --check writes nothing
    assert unasync.main([]) == 0
    assert unasync.main(["--check"]) == 0
    generated = copy_target.read_text(encoding="utf-8")
    assert "async def" not in generated and "await " not in generated
    assert "class StoreCalls:" in generated and "def labels(" in generated


def test_both_clients_take_their_calls_from_the_generated_pair() -> None:
    from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
    from promptvault.client._calls_async import AsyncStoreCalls
    from promptvault.client._calls_sync import StoreCalls

    assert issubclass(PromptVaultClient, StoreCalls)
    assert issubclass(AsyncPromptVaultClient, AsyncStoreCalls)
    assert "push" not in vars(PromptVaultClient) and "push" not in vars(AsyncPromptVaultClient)


def test_every_generated_file_says_so_and_has_no_async_left() -> None:
    unasync = _load()
    assert len(unasync.FILES) >= 2
    for source, target in unasync.FILES:
        text = target.read_text(encoding="utf-8")
        assert text.startswith(f"# Generated from {source.name} by scripts/unasync.py")
        assert "async " not in text and "await " not in text and "Awaitable" not in text
