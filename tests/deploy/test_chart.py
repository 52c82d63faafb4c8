"""Offline checks of the deployment files: charts/twinwear, skaffold.yaml and the Dockerfile.

helm and kubernetes-validate come from infra/k8s-tools.sh, run once per session; no cluster,
Docker or skaffold is needed.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

# The first run downloads helm/kubectl (~36 MB) and kubernetes-validate (~23 MB).
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "twinwear"
SERVICES = {"ingestion", "twin_builder", "render", "publisher"}
OPS_PORT = 9100
# A supported Kubernetes minor that kubernetes-validate 1.37 has schemas for (1.25..1.37).
KUBE_VERSION = "1.33.0"
SECRET_KEY = "s3cr3t-must-stay-in-the-secret"
API_TOKEN = "api-t0ken-must-stay-in-the-secret"
SHOPIFY_SECRET = "shpss-must-stay-in-the-secret"

# Values overrides to render besides the defaults. JSON is valid YAML, so no yaml needed here.
VARIANTS: dict[str, dict] = {
    "default": {},
    "override": {
        "image": {"repository": "registry.example.com/twinwear", "tag": "1.2.3"},
        "kafka": {"bootstrap": "kafka-0.kafka.data:9093"},
        "minio": {"endpoint": "minio.storage:9000", "secure": True, "accessKey": "twinwear", "secretKey": SECRET_KEY},
        "apiToken": {"token": API_TOKEN},
        "pimWebhooks": {
            "shopifySecret": SHOPIFY_SECRET,
            "salsifyWebhookUrl": "https://twinwear.example.com/v1/webhooks/salsify",
        },
        "triton": {"grpc": "triton.gpu:8001"},
        "services": {"ingestion": {"replicas": 3}},
        "extraConfig": {"TWINWEAR_MAX_ATTEMPTS": 7},
    },
    "existing-secret": {
        "minio": {"existingSecret": "minio-creds"},
        "apiToken": {"existingSecret": "ingestion-api-token"},
        "pimWebhooks": {"existingSecret": "pim-webhook-secrets"},
        "services": {"render": {"enabled": False}},
    },
}


@dataclass
class Tools:
    helm: Path
    env: dict[str, str]

    def run_helm(self, *args: str) -> str:
        proc = subprocess.run([str(self.helm), *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
        return proc.stdout


@dataclass
class Rendered:
    variant: str
    values: dict
    docs: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def by_component(self, kind: str) -> dict[str, dict]:
        return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in self.of_kind(kind)}


def component(service: str) -> str:
    return service.replace("_", "-")


def enabled_services(values: dict) -> set[str]:
    overrides = values.get("services", {})
    return {s for s in SERVICES if overrides.get(s, {}).get("enabled", True)}


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    proc = subprocess.run(["bash", str(ROOT / "infra" / "k8s-tools.sh")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"infra/k8s-tools.sh failed:\n{proc.stdout}{proc.stderr}"
    # kubernetes-validate (and its PyYAML) may have just been installed into this interpreter.
    importlib.invalidate_caches()
    bin_dir = ROOT / os.environ.get("TWINWEAR_STACK_DIR", ".stack") / "cache" / "bin"
    home = tmp_path_factory.mktemp("helm-home")  # keep the user's helm config/cache out of it
    env = {**os.environ, **{f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")}}
    return Tools(helm=bin_dir / "helm", env=env)


@pytest.fixture(scope="session")
def yaml(tools: Tools):
    return importlib.import_module("yaml")


@pytest.fixture(scope="session")
def values_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    out = tmp_path_factory.mktemp("values")
    args = {"default": []}  # the chart's own values.yaml only
    for name, values in VARIANTS.items():
        if values:
            path = out / f"{name}.yaml"
            path.write_text(json.dumps(values))
            args[name] = ["-f", str(path)]
    return args


@pytest.fixture(scope="session", params=list(VARIANTS))
def rendered(request, tools: Tools, yaml, values_files) -> Rendered:
    out = tools.run_helm(
        "template",
        "twinwear",
        str(CHART),
        "--namespace",
        "twinwear",
        "--kube-version",
        KUBE_VERSION,
        *values_files[request.param],
    )
    return Rendered(request.param, VARIANTS[request.param], [d for d in yaml.safe_load_all(out) if d])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_helm_lint(tools: Tools, values_files, variant: str) -> None:
    tools.run_helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, *values_files[variant])


def test_manifests_match_kubernetes_schemas(rendered: Rendered) -> None:
    kv = importlib.import_module("kubernetes_validate")
    errors = []
    for doc in rendered.docs:
        try:
            # strict: unknown fields (typos, wrong nesting) fail instead of being ignored.
            kv.validate(doc, KUBE_VERSION, strict=True)
        except (kv.ValidationError, kv.SchemaNotFoundError) as exc:
            where = ".".join(str(p) for p in getattr(exc, "path", ()))
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} {where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_one_deployment_per_service(rendered: Rendered) -> None:
    expected = enabled_services(rendered.values)
    deployments = rendered.by_component("Deployment")
    assert len(rendered.of_kind("Deployment")) == len(expected)
    assert set(deployments) == {component(s) for s in expected}
    for service in expected:
        c = container(deployments[component(service)])
        assert c["args"] == [f"services.{service}"]


def test_probes_use_ops_port(rendered: Rendered) -> None:
    (config,) = rendered.of_kind("ConfigMap")
    assert config["data"]["TWINWEAR_OPS_PORT"] == str(OPS_PORT)
    for name, deployment in rendered.by_component("Deployment").items():
        c = container(deployment)
        assert {"name": "ops", "containerPort": OPS_PORT, "protocol": "TCP"} in c["ports"], name
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert c[probe]["httpGet"] == {"path": path, "port": "ops"}, (name, probe)


def test_pods_are_hardened_and_drain(rendered: Rendered) -> None:
    for name, deployment in rendered.by_component("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], name
        assert pod["terminationGracePeriodSeconds"] >= 30, name
        assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], name


def test_services_expose_ports_and_scrape_annotations(rendered: Rendered) -> None:
    services = rendered.by_component("Service")
    assert set(services) == {component(s) for s in enabled_services(rendered.values)}
    for name, svc in services.items():
        assert svc["spec"]["type"] == "ClusterIP"
        assert svc["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(OPS_PORT),
            "prometheus.io/path": "/metrics",
        }
        assert {"name": "ops", "port": OPS_PORT, "targetPort": "ops", "protocol": "TCP"} in svc["spec"]["ports"], name
    ingestion = {p["name"]: p for p in services["ingestion"]["spec"]["ports"]}
    assert ingestion["http"]["port"] == 8080 and ingestion["grpc"]["port"] == 50051
    env = {e["name"]: e.get("value") for e in container(rendered.by_component("Deployment")["ingestion"])["env"]}
    assert env["TWINWEAR_HTTP_PORT"] == "8080" and env["TWINWEAR_GRPC_PORT"] == "50051"


def secret_holding(rendered: Rendered, value: str, section: str, default_name: str) -> tuple[str, dict | None]:
    """Check that only a Secret carries ``value`` (not even base64-encoded elsewhere) and that the
    chart makes that Secret unless ``<section>.existingSecret`` names one; return its name and
    data (None for an existing one)."""
    encoded = base64.b64encode(value.encode()).decode()
    for doc in rendered.docs:
        if doc["kind"] != "Secret":
            assert value not in json.dumps(doc) and encoded not in json.dumps(doc), doc["metadata"]["name"]
    existing = rendered.values.get(section, {}).get("existingSecret")
    secrets = {s["metadata"]["name"]: s for s in rendered.of_kind("Secret")}
    if existing:
        assert existing not in secrets, "chart must not create a Secret when existingSecret is set"
        return existing, None
    return default_name, secrets[default_name]["data"]


def test_minio_credentials_only_in_secret(rendered: Rendered) -> None:
    for config in rendered.of_kind("ConfigMap"):
        assert not any("ACCESS_KEY" in k or "SECRET_KEY" in k for k in config["data"])
    secret_name, data = secret_holding(rendered, SECRET_KEY, "minio", "twinwear-minio")
    if data is not None:
        assert base64.b64decode(data["secretKey"]).decode() == rendered.values.get("minio", {}).get("secretKey", "")
    for name, deployment in rendered.by_component("Deployment").items():
        env = {e["name"]: e for e in container(deployment)["env"]}
        for var, key in (("TWINWEAR_MINIO_ACCESS_KEY", "accessKey"), ("TWINWEAR_MINIO_SECRET_KEY", "secretKey")):
            assert env[var] == {"name": var, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}, name


def test_api_token_only_in_secret_and_only_for_ingestion(rendered: Rendered) -> None:
    secret_name, data = secret_holding(rendered, API_TOKEN, "apiToken", "twinwear-api-token")
    if data is not None:
        assert base64.b64decode(data["token"]).decode() == rendered.values.get("apiToken", {}).get("token", "")
    for name, deployment in rendered.by_component("Deployment").items():
        env = {e["name"]: e for e in container(deployment)["env"]}
        if name == "ingestion":
            expected = {"secretKeyRef": {"name": secret_name, "key": "token"}}
            assert env["TWINWEAR_API_TOKEN"] == {"name": "TWINWEAR_API_TOKEN", "valueFrom": expected}
        else:
            assert "TWINWEAR_API_TOKEN" not in env, name


def test_webhook_secrets_only_in_secret_and_only_for_ingestion(rendered: Rendered) -> None:
    secret_name, data = secret_holding(rendered, SHOPIFY_SECRET, "pimWebhooks", "twinwear-pim-webhooks")
    if data is not None:
        expected_secret = rendered.values.get("pimWebhooks", {}).get("shopifySecret", "")
        assert base64.b64decode(data["shopifySecret"]).decode() == expected_secret
    for name, deployment in rendered.by_component("Deployment").items():
        env = {e["name"]: e for e in container(deployment)["env"]}
        if name != "ingestion":
            assert not any("SHOPIFY" in var or "SALSIFY" in var for var in env), name
            continue
        reference = env["TWINWEAR_SHOPIFY_SECRET"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": secret_name, "key": "shopifySecret", "optional": True}
        certificate = env["TWINWEAR_SALSIFY_CERT"]["value"]
        mounts = {m["name"]: m["mountPath"] for m in container(deployment)["volumeMounts"]}
        assert certificate.startswith(mounts["salsify-certificate"] + "/")
        url = rendered.values.get("pimWebhooks", {}).get("salsifyWebhookUrl", "")
        assert env["TWINWEAR_SALSIFY_WEBHOOK_URL"]["value"] == url


def test_values_reach_the_pods(rendered: Rendered) -> None:
    values = rendered.values
    image = values.get("image", {})
    expected_image = f"{image.get('repository', 'twinwear')}:{image.get('tag', '0.1.0')}"
    (config,) = rendered.of_kind("ConfigMap")
    assert config["data"]["TWINWEAR_KAFKA_BOOTSTRAP"] == values.get("kafka", {}).get("bootstrap", "kafka:9092")
    assert config["data"]["TWINWEAR_MINIO_SECURE"] == str(values.get("minio", {}).get("secure", False)).lower()
    assert config["data"]["TWINWEAR_TOPIC_REPLICATION_FACTOR"] == "3"
    for name, value in values.get("extraConfig", {}).items():
        assert config["data"][name] == str(value)
    deployments = rendered.by_component("Deployment")
    for name, deployment in deployments.items():
        c = container(deployment)
        assert c["image"] == expected_image, name
        has_triton = any(e["name"] == "TWINWEAR_TRITON_GRPC" for e in c["env"])
        assert has_triton == (name == "render"), name  # only render talks to Triton
    replicas = values.get("services", {}).get("ingestion", {}).get("replicas", 2)
    assert deployments["ingestion"]["spec"]["replicas"] == replicas


def test_skaffold_builds_dockerfile_and_deploys_chart(yaml) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"].startswith("skaffold/v4beta") and config["kind"] == "Config"
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == "twinwear"
    assert (ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]) == ROOT / "Dockerfile"
    (release,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]) == CHART
    templates = release["setValueTemplates"]
    assert templates["image.repository"] == "{{.IMAGE_REPO_twinwear}}"
    assert templates["image.tag"] == "{{.IMAGE_TAG_twinwear}}@{{.IMAGE_DIGEST_twinwear}}"


def test_dockerfile_matches_chart(yaml) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["python", "-m"\]$', dockerfile, re.M)
    assert not re.search(r"^COPY\s+(\./)?gen\b", dockerfile, re.M), "gen/ must be generated in the image"
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignore and "!gen" not in ignore, ".dockerignore must keep the host's gen/ out of the context"
    # The image's UID is what the chart's runAsNonRoot/runAsUser rely on.
    uid = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    pod = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert uid and (int(uid[1]), int(uid[2])) == (pod["runAsUser"], pod["runAsGroup"])
    # Run the Dockerfile's requirements filter: only the local Triton and dev tools are dropped.
    pattern = re.search(r"grep -viE '([^']+)'", dockerfile)[1]
    kept = subprocess.run(
        ["grep", "-viE", pattern, "requirements.txt"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    def names(lines: list[str]) -> set[str]:
        return {
            re.split(r"[=<>!~;\[ ]", ln.strip())[0].lower()
            for ln in lines
            if ln.strip() and not ln.lstrip().startswith("#")
        }

    all_names = names((ROOT / "requirements.txt").read_text().splitlines())
    assert all_names - names(kept) == {"nvidia-pytriton", "pytest", "pytest-timeout", "ruff"}
