"""packaging/: every Dockerfile lints clean with hadolint, every Kubernetes manifest validates offline against the
stated Kubernetes version, and the manifests' commands are ones the studio's scripts and CLI accept. No Docker
engine runs here: nothing is built (packaging/torchserve/README.md says what was verified instead)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TORCHSERVE = ROOT / "packaging" / "torchserve"
K8S = ROOT / "packaging" / "k8s"
KUBERNETES_VERSION = "1.33.0"  # the version the manifests are written for (README.md, each manifest's header)
DOCKERFILES = sorted([*TORCHSERVE.glob("Dockerfile.*"), *K8S.glob("Dockerfile.*")])
DOCKERFILES = [p for p in DOCKERFILES if p.suffix != ".dockerignore"]
MANIFESTS = sorted(K8S.glob("*.yaml"))


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_there_are_the_three_images_and_the_batch_image() -> None:
    assert [p.name for p in DOCKERFILES] == ["Dockerfile.batch", "Dockerfile.cpu", "Dockerfile.gpu", "Dockerfile.slim"]
    for dockerfile in DOCKERFILES:  # BuildKit's per-Dockerfile ignore file keeps the repository out of the context
        assert dockerfile.with_name(dockerfile.name + ".dockerignore").is_file()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_lints_clean(dockerfile: Path) -> None:
    lint = subprocess.run([_tool("hadolint"), "--config", str(TORCHSERVE / ".hadolint.yaml"), str(dockerfile)],
                          capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install torch\nRUN cd /tmp && make\n")
    lint = subprocess.run([_tool("hadolint"), "--config", str(TORCHSERVE / ".hadolint.yaml"), str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert lint.returncode != 0 and "DL3006" in lint.stdout and "DL3013" in lint.stdout


def test_the_gpu_image_pins_the_matrix() -> None:
    text = (TORCHSERVE / "Dockerfile.gpu").read_text()
    for pin in ("nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04", "torch==2.0.1+cu118", "torchvision==0.15.2+cu118",
                "mmcv-full==1.7.0", "mmdet==2.27.0", "mmpose==0.29.0", "FORCE_CUDA=1", "python3.11"):
        assert pin in text
    arch = next(line for line in text.splitlines() if line.startswith("ARG TORCH_CUDA_ARCH_LIST="))
    assert {"8.0", "9.0"} <= set(arch.split("=", 1)[1].strip('"').split(";"))
    assert "numpy==1.26.4" in (TORCHSERVE / "requirements-studio.txt").read_text()
    assert "selfcheck.py --stages archs" in text and "selfcheck.py --stages mmcv,serve --cuda" in text


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_offline(manifest: Path) -> None:
    check = subprocess.run([_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(manifest)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "passed" in check.stdout, check.stdout + check.stderr


def test_kubernetes_validate_does_fail_a_bad_manifest(tmp_path: Path) -> None:
    bad = yaml.safe_load((K8S / "torchserve-deployment.yaml").read_text())
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"] = "probe.py"  # not a list
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    check = subprocess.run([_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode != 0


def _containers(name: str) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load((K8S / name).read_text())
    return {c["name"]: c for c in doc["spec"]["template"]["spec"]["containers"]}


def test_the_deployment_asks_for_a_gpu_and_probes_with_a_real_prediction() -> None:
    sys.path.insert(0, str(TORCHSERVE))
    import probe

    containers = _containers("torchserve-deployment.yaml")
    torchserve = containers["torchserve"]
    assert torchserve["resources"]["limits"]["nvidia.com/gpu"] == 1
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = torchserve[kind]["exec"]["command"]
        assert command[:2] == ["python", "/home/model-server/probe.py"]
        args = probe.build_parser().parse_args(command[2:])  # flags the probe really has
        assert args.ping_only == (kind == "livenessProbe")  # liveness asks /ping; the others make a prediction
        assert args.deadline < torchserve[kind]["timeoutSeconds"]  # the probe answers before the kubelet gives up
    env = {e["name"]: e.get("value") for e in torchserve["env"]}
    assert env["TS_INFERENCE_ADDRESS"] == "http://127.0.0.1:8080"  # only the auth proxy reaches TorchServe
    proxy = containers["auth-proxy"]
    assert proxy["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "studio-torchserve-token"
    template = yaml.safe_load((K8S / "auth-proxy-configmap.yaml").read_text())["data"]["default.conf.template"]
    assert '"Bearer ${STUDIO_TORCHSERVE_TOKEN}"' in template and "proxy_pass http://127.0.0.1:8080;" in template
    service = yaml.safe_load((K8S / "service.yaml").read_text())
    assert {p["port"]: p["targetPort"] for p in service["spec"]["ports"]} == {8080: "http", 8082: "metrics"}
    assert {p["name"] for p in proxy["ports"]} == {"http"}


def test_the_indexed_job_runs_studio_batch_with_its_shard_count() -> None:
    import studio.cli.main as cli

    job = yaml.safe_load((K8S / "batch-job.yaml").read_text())
    assert job["spec"]["completionMode"] == "Indexed"
    batch = job["spec"]["template"]["spec"]["containers"][0]
    args = cli.build_parser().parse_args(batch["args"])  # what the image's entrypoint, studio, is given
    assert args.command == "batch" and args.input.startswith("s3://") and args.output.startswith("s3://")
    assert args.share and args.backend == "torchserve" and args.shard_index is None  # JOB_COMPLETION_INDEX
    env = {e["name"]: e for e in batch["env"]}
    assert int(env["STUDIO_BATCH_SHARDS"]["value"]) == job["spec"]["completions"]
    assert env["STUDIO_TORCHSERVE_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "studio-torchserve-token"
