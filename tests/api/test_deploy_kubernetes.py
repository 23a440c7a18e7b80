"""deploy/kubernetes: every manifest valid against the Kubernetes schemas (kubernetes-validate
--strict, offline), and the properties an operator relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
KUBERNETES_VERSION = "1.37.0"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((K8S / name).read_text())
    return doc


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_every_manifest_passes_kubernetes_validate_strict() -> None:
    files = manifests()
    assert {p.name for p in files} >= {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml",
                                       "configmap.yaml", "secret.example.yaml"}
    out = subprocess.run([str(VALIDATE), "--strict", "-k", KUBERNETES_VERSION,
                          *map(str, files)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("passed for resource") == len(files), out.stdout


def test_kubernetes_validate_rejects_a_broken_manifest(tmp_path: Path) -> None:
    """The check above can fail: an unknown field under --strict is an error."""
    bad = load("deployment.yaml")
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = subprocess.run([str(VALIDATE), "--strict", "-k", KUBERNETES_VERSION, str(path)],
                         capture_output=True, text=True, check=False)
    assert out.returncode != 0
    assert "httpGett" in out.stdout + out.stderr


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kust = load("kustomization.yaml")
    assert kust["kind"] == "Kustomization"
    examples = {p.name for p in manifests() if p.name.endswith(".example.yaml")}
    assert examples == {"secret.example.yaml", "database-secret.example.yaml"}
    assert set(kust["resources"]) == {p.name for p in manifests()} - examples


def _container() -> dict[str, Any]:
    containers = load("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c: dict[str, Any] = containers[0]
    return c


def test_deployment_probes_resources_and_security() -> None:
    dep = load("deployment.yaml")
    pod = dep["spec"]["template"]["spec"]
    c = _container()
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 40  # torch import, measured
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}
    assert c["resources"]["limits"]["memory"] == "1536Mi"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sec = c["securityContext"]
    assert sec["readOnlyRootFilesystem"] is True
    assert sec["allowPrivilegeEscalation"] is False
    assert sec["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}
    # The server command is the Dockerfile's, on the port every probe and the Service use.
    assert c["command"][:2] == ["uvicorn", "app.main:app"]
    port = c["command"][c["command"].index("--port") + 1]
    assert c["ports"] == [{"name": "http", "containerPort": int(port), "protocol": "TCP"}]
    assert f"EXPOSE {port}" in (ROOT / "Dockerfile").read_text()


def test_settings_come_from_the_configmap_and_keys_from_a_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    c = _container()
    config = load("configmap.yaml")
    assert c["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    data: dict[str, str] = config["data"]
    # Every replica serves the same torch bits: one pinned CPU kernel.
    assert data["ATEN_CPU_CAPABILITY"] == "avx2"
    assert data["WEB_CONCURRENCY"] == "1"
    assert data["SEED_AUTHORITY_LOG_FORMAT"] == "json"
    # Every SEED_AUTHORITY_* key is a setting (a typo would be silently ignored), and its
    # value is valid. memory_budget is the admission control's (issue #11), when it lands.
    fields = set(Settings.model_fields) | {"memory_budget"}
    for key, val in data.items():
        if key.startswith("SEED_AUTHORITY_"):
            name = key.removeprefix("SEED_AUTHORITY_").lower()
            assert name in fields, key
            monkeypatch.setenv(key, val)
    settings = Settings()
    assert settings.log_format == "json"
    assert settings.cuda == "off"
    secret = load("secret.example.yaml")
    keys = [e for e in c["env"] if e["name"] == "SEED_AUTHORITY_API_KEYS"]
    assert keys == [{"name": "SEED_AUTHORITY_API_KEYS", "valueFrom": {"secretKeyRef": {
        "name": secret["metadata"]["name"], "key": "api-keys", "optional": True}}}]
    assert set(secret["stringData"]) == {"api-keys"}


def test_service_hpa_and_pdb_select_the_deployment() -> None:
    dep = load("deployment.yaml")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc = load("service.yaml")
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    hpa = load("hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": dep["metadata"]["name"]}
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["minReplicas"] <= dep["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    pdb = load("pdb.yaml")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
