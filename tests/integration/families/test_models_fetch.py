"""``pipeq models fetch`` against a local fake of the Hub: a cache directory laid out as
huggingface_hub writes it (``models--org--name/{blobs,snapshots/<commit>,refs/main}``), the
tiny builds as its repositories, ``HF_HUB_OFFLINE=1`` throughout: no network.

The fetch resolves each model to its snapshot (the commit is the directory's name), writes a
models config naming it, and a worker started offline with that config serves the models.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from pipeq_client import Client
from pipeq_client.errors import RequestValidationError
from pipeq_client.protocol import Queue, Task
from pipeq_workers.errors import WorkerConfigError
from pipeq_workers.models.allowlist import HUB_DEFAULT_FAMILIES, HUB_DEFAULTS, ModelAllowList
from pipeq_workers.models.fetch import HubModel
from pipeq_workers.pipelines.seq2seq import SummarizationPipeline
from pipeq_workers.tooling.stack import LocalStack
from tests.integration.families.support import family_model

pytestmark = pytest.mark.integration

TEXT = "the quick brown fox jumps over the lazy dog"
T5_COMMIT = hashlib.sha1(b"acme/tiny-t5").hexdigest()
NLLB_COMMIT = hashlib.sha1(b"acme/tiny-nllb").hexdigest()


def fake_hub_repo(cache: Path, repo_id: str, source: Path, commit: str, branch: str | None = "main") -> Path:
    """``source``'s files as revision ``commit`` of ``repo_id`` in a Hub cache: content-addressed
    blobs, a snapshot of relative symlinks to them, and ``refs/<branch>`` naming the commit."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    for file in sorted(path for path in source.rglob("*") if path.is_file()):
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / file.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if branch is not None:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / branch).write_text(commit)
    return snapshot


def offline_env(tmp_path: Path) -> dict[str, str]:
    # HF_HOME in the test's directory: nothing is read from or written to the user's own cache.
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}


def pipeq(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeq_workers.cli", "models", "fetch", *args]
    return subprocess.run(command, env=offline_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def fetched(families_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fetch of two models: T5 on its main branch, NLLB pinned to a commit (it has no refs)."""
    directory = tmp_path_factory.mktemp("fetched")
    _, t5 = family_model(families_config, Task.SUMMARIZATION, "t5")
    _, nllb = family_model(families_config, Task.TRANSLATION, "nllb")
    fake_hub_repo(directory / "hub", "acme/tiny-t5", Path(t5), T5_COMMIT)
    fake_hub_repo(directory / "hub", "acme/tiny-nllb", Path(nllb), NLLB_COMMIT, branch=None)
    models = ["--model", "summarization=acme/tiny-t5", "--model", f"translation=acme/tiny-nllb@{NLLB_COMMIT}"]
    done = pipeq(directory, str(directory), *models)
    assert done.returncode == 0, done.stderr
    return directory / "models.json"


def test_fetch_writes_a_config_naming_each_snapshot(fetched: Path) -> None:
    tasks = json.loads(fetched.read_text())["tasks"]
    assert set(tasks) == {"summarization", "translation"}
    assert tasks["summarization"]["models"] == {"acme/tiny-t5": f"hub/models--acme--tiny-t5/snapshots/{T5_COMMIT}"}
    assert tasks["translation"]["models"] == {"acme/tiny-nllb": f"hub/models--acme--tiny-nllb/snapshots/{NLLB_COMMIT}"}
    assert tasks["summarization"]["default"] == "acme/tiny-t5"
    registry = ModelAllowList.from_file(fetched)
    name, source = registry.for_task(Task.SUMMARIZATION).source(None)
    assert name == "acme/tiny-t5" and Path(source) == fetched.parent / tasks["summarization"]["models"][name]


@pytest.fixture(scope="module")
def offline_stack(fetched: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    hf_home = str(tmp_path_factory.mktemp("worker-hf-home"))
    with LocalStack(
        models_config=fetched, queues=(Queue.TEXT,), extra_env={"HF_HUB_OFFLINE": "1", "HF_HOME": hf_home}
    ) as running:
        yield running


def test_a_worker_started_offline_serves_the_fetched_models(offline_stack: LocalStack, fetched: Path) -> None:
    snapshot = fetched.parent / "hub" / "models--acme--tiny-t5" / "snapshots" / T5_COMMIT
    with Client(offline_stack.redis_url) as client:
        result = client.summarization(TEXT, max_new_tokens=8)
        translated = client.translation(TEXT, model="acme/tiny-nllb", tgt_lang="fra_Latn", max_new_tokens=8)
        # Errors name the model by its Hub id, not by the snapshot's path.
        with pytest.raises(RequestValidationError, match="model 'acme/tiny-nllb' is multilingual"):
            client.translation(TEXT, model="acme/tiny-nllb")
    pipe = SummarizationPipeline(
        model=AutoModelForSeq2SeqLM.from_pretrained(snapshot), tokenizer=AutoTokenizer.from_pretrained(snapshot)
    )
    assert result.summary_text == pipe(TEXT, max_new_tokens=8)[0]["summary_text"] != ""
    assert translated.translation_text != ""


def test_fetch_fails_clearly_for_a_revision_the_cache_lacks(fetched: Path, tmp_path: Path) -> None:
    shutil.copytree(fetched.parent / "hub", tmp_path / "hub")
    done = pipeq(tmp_path, str(tmp_path), "--model", f"summarization=acme/tiny-t5@{'0' * 40}")
    assert done.returncode == 1
    assert f"acme/tiny-t5@{'0' * 40}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "models.json").exists()


def test_fetch_without_models_takes_every_hub_default(families_config: Path, tmp_path: Path) -> None:
    # The fake Hub holds each default id with a tiny model of the task (of the default's family
    # where it is one of the tiny builds).
    config = json.loads(families_config.read_text())["tasks"]
    for task, repo_id in HUB_DEFAULTS.items():
        families = config[task.value]["families"]
        name = families.get(HUB_DEFAULT_FAMILIES[task], config[task.value]["default"])
        source = families_config.parent / config[task.value]["models"][name]
        fake_hub_repo(tmp_path / "store" / "hub", repo_id, source, hashlib.sha1(repo_id.encode()).hexdigest())
    done = pipeq(tmp_path, str(tmp_path / "models"), "--cache-dir", str(tmp_path / "store" / "hub"))
    assert done.returncode == 0, done.stderr
    registry = ModelAllowList.from_file(tmp_path / "models" / "models.json")
    assert set(registry.tasks) == set(Task)
    for task, repo_id in HUB_DEFAULTS.items():
        models = registry.for_task(task)
        assert models.default == repo_id
        assert models.families == {HUB_DEFAULT_FAMILIES[task]: repo_id}
        # A cache outside the config's directory is named by its absolute path.
        assert Path(models.sources[repo_id]).is_relative_to(tmp_path / "store" / "hub")


@pytest.mark.parametrize("spec", ["summarization", "summarization=acme", "painting=acme/model"])
def test_model_specs_are_checked(spec: str) -> None:
    with pytest.raises(WorkerConfigError):
        HubModel.parse(spec)
    assert HubModel.parse("translation=acme/tiny-nllb@v1") == HubModel(Task.TRANSLATION, "acme/tiny-nllb", "v1")
