"""The models config of ``pipeq models tiny``: one model per task by default, every verified
family with ``--all``, the Hub defaults among them, the README's table in step, and builds
that are the same byte for byte in another process."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeq_client.protocol import Task
from pipeq_workers.models.allowlist import HUB_DEFAULT_FAMILIES, ModelAllowList

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[3] / "README.md"


def families(models_config: Path) -> dict[str, set[str]]:
    return {task: set(entry["families"]) for task, entry in json.loads(models_config.read_text())["tasks"].items()}


def test_default_build_keeps_one_model_per_task(models_config: Path) -> None:
    registry = ModelAllowList.from_file(models_config)
    assert set(registry.tasks) == set(Task)
    for models in registry.tasks.values():
        assert list(models.sources) == [models.default]
        assert list(models.families.values()) == [models.default]


def test_all_families_include_every_hub_default(families_config: Path) -> None:
    verified = families(families_config)
    assert set(verified) == {task.value for task in Task}
    for task, family in HUB_DEFAULT_FAMILIES.items():
        assert family in verified[task.value], f"{task.value}: the Hub default's family {family} is not verified"


def test_readme_table_lists_the_verified_families(families_config: Path) -> None:
    rows = re.findall(r"^\| ([a-z-]+) \| [^|]+ \| ([a-z0-9, -]+) \|$", README.read_text(), flags=re.MULTILINE)
    listed = {task: {name.strip() for name in names.split(",")} for task, names in rows if task in set(Task)}
    assert listed == families(families_config)


def content(path: Path) -> bytes:
    """The file's bytes; for a SentencePiece model its pieces and scores (the file also records
    the trainer's temporary input path, which differs from build to build)."""
    if path.suffix not in (".spm", ".model"):
        return path.read_bytes()
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(path))
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    return json.dumps(pieces).encode()


def digests(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(content(path)).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != ".build-version"
    }


def test_cli_all_build_is_reproducible(families_config: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pipeq_workers.cli", "models", "tiny", str(tmp_path), "--all"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert digests(tmp_path) == digests(families_config.parent)
