"""Fixtures of the model-family tests: the ``pipeq models tiny --all`` set, built once per session.

The build goes to a private directory (a few seconds): a cached one shared with other
sessions could be rebuilt under their running workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeq_workers.tooling.tiny import build_tiny_models


@pytest.fixture(scope="session")
def families_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_models(tmp_path_factory.mktemp("tiny-all"), all_families=True)
