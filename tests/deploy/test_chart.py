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
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The first run downloads helm/kubectl (~36 MB) and kubernetes-validate (~23 MB).
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "twinwear"
# services.<key> -> the module its Deployment runs, and whether the chart enables it by default.
MODULES = {
    "ingestion": "services.ingestion",
    "pim_aggregator": "services.ingestion.pim",
    "twin_builder": "services.twin_builder",
    "render": "services.render",
    "publisher": "services.publisher",
}
ENABLED_BY_DEFAULT = {"ingestion", "twin_builder", "render", "publisher"}
# Which image each component runs: only these have anny and torch.
RENDER_IMAGE_COMPONENTS = {"twin-builder", "render", "triton"}
ANNY_COMPONENTS = {"twin-builder", "triton"}
OPS_PORT = 9100
# A supported Kubernetes minor that kubernetes-validate 1.37 has schemas for (1.25..1.37).
KUBE_VERSION = "1.33.0"
SECRET_KEY = "s3cr3t-must-stay-in-the-secret"
API_TOKEN = "api-t0ken-must-stay-in-the-secret"
SHOPIFY_SECRET = "shpss-must-stay-in-the-secret"
AKENEO_API_PASSWORD = "akeneo-pw-must-stay-in-the-secret"
ADMIN_TOKENS = "ops:admin-t0ken-must-stay-in-the-secret"
C2PA_KEY = "-----BEGIN PRIVATE KEY-----\nc2pa-key-must-stay-in-the-secret\n-----END PRIVATE KEY-----\n"
C2PA_CERT = "-----BEGIN CERTIFICATE-----\nc2pa-chain\n-----END CERTIFICATE-----\n"
MAPPING = (ROOT / "services" / "ingestion" / "pim" / "mapping.example.toml").read_text()
POLICY = '[coverage]\nsizes = ["M"]\nmin_monk_tones = 1\nmax_synthetic_twins = 1\n'

# Values overrides to render besides the defaults. JSON is valid YAML, so no yaml needed here.
VARIANTS: dict[str, dict] = {
    "default": {},
    "override": {
        "image": {"repository": "registry.example.com/twinwear", "tag": "1.2.3"},
        "renderImage": {"repository": "registry.example.com/twinwear-render", "tag": "1.2.4"},
        "kafka": {"bootstrap": "kafka-0.kafka.data:9093"},
        "minio": {"endpoint": "minio.storage:9000", "secure": True, "accessKey": "twinwear", "secretKey": SECRET_KEY},
        "apiToken": {"token": API_TOKEN},
        "adminTokens": {"tokens": ADMIN_TOKENS},
        "c2pa": {"certificate": C2PA_CERT, "key": C2PA_KEY, "tsaUrl": "http://timestamp.example.com"},
        "campaignPolicy": {"policy": POLICY},
        "pimMapping": {"mapping": MAPPING},
        "pimWebhooks": {
            "shopifySecret": SHOPIFY_SECRET,
            "salsifyWebhookUrl": "https://twinwear.example.com/v1/webhooks/salsify",
            "akeneoApi": {"url": "https://pim.example.com", "password": AKENEO_API_PASSWORD},
        },
        # An external Triton instead of the chart's own.
        "triton": {"enabled": False, "grpc": "triton.gpu:8001"},
        "services": {
            "ingestion": {"replicas": 3},
            "pim_aggregator": {"enabled": True},
            "publisher": {"env": {"TWINWEAR_PUBLIC_BASE_URL": "https://cdn.example.com/assets"}},
        },
        "extraConfig": {"TWINWEAR_MAX_ATTEMPTS": 7},
    },
    "existing-secret": {
        "minio": {"existingSecret": "minio-creds"},
        "apiToken": {"existingSecret": "ingestion-api-token"},
        "adminTokens": {"existingSecret": "twinwear-admins"},
        "c2pa": {"existingSecret": "c2pa-signer"},
        "pimWebhooks": {"existingSecret": "pim-webhook-secrets"},
        "campaignPolicy": {"existingConfigMap": "spring-campaign"},
        "pimMapping": {"existingConfigMap": "retailer-mapping"},
        "services": {"render": {"enabled": False}, "pim_aggregator": {"enabled": True}},
    },
    # Triton on a GPU node, anny's cache on a persistent volume.
    "gpu": {
        "triton": {"gpu": {"enabled": True, "runtimeClassName": "nvidia"}},
        "anny": {"existingClaim": "anny-cache"},
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

    def named(self, kind: str) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in self.of_kind(kind)}

    def section(self, name: str) -> dict:
        return self.values.get(name, {})


def component(service: str) -> str:
    return service.replace("_", "-")


def enabled_services(values: dict) -> set[str]:
    overrides = values.get("services", {})
    return {s for s in MODULES if overrides.get(s, {}).get("enabled", s in ENABLED_BY_DEFAULT)}


def triton_enabled(values: dict) -> bool:
    return values.get("triton", {}).get("enabled", True)


def gpu_enabled(values: dict) -> bool:
    return values.get("triton", {}).get("gpu", {}).get("enabled", False)


def expected_components(values: dict) -> set[str]:
    return {component(s) for s in enabled_services(values)} | ({"triton"} if triton_enabled(values) else set())


def pod(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def container(deployment: dict) -> dict:
    (c,) = pod(deployment)["containers"]
    return c


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def mounts_of(c: dict) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}


def volumes_of(deployment: dict) -> dict[str, dict]:
    return {v["name"]: v for v in pod(deployment).get("volumes", [])}


def image_of(values: dict, key: str) -> str:
    image = values.get(key, {})
    return f"{image.get('repository', 'twinwear' if key == 'image' else 'twinwear-render')}:{image.get('tag', '0.1.0')}"


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


def test_one_deployment_per_component(rendered: Rendered) -> None:
    deployments = rendered.by_component("Deployment")
    assert len(rendered.of_kind("Deployment")) == len(deployments)
    assert set(deployments) == expected_components(rendered.values)
    for service in enabled_services(rendered.values):
        assert container(deployments[component(service)])["args"] == [MODULES[service]]
    if triton_enabled(rendered.values):
        assert container(deployments["triton"])["command"] == ["/opt/pytriton/pytriton/tritonserver/bin/tritonserver"]


def test_probes(rendered: Rendered) -> None:
    config = rendered.named("ConfigMap")["twinwear"]
    assert config["data"]["TWINWEAR_OPS_PORT"] == str(OPS_PORT)
    for name, deployment in rendered.by_component("Deployment").items():
        c = container(deployment)
        if name == "triton":  # Triton's own health API on its HTTP port
            paths = ("/v2/health/ready", "/v2/health/live", "/v2/health/ready")
            port = "http"
        else:
            assert {"name": "ops", "containerPort": OPS_PORT, "protocol": "TCP"} in c["ports"], name
            paths, port = ("/healthz", "/healthz", "/readyz"), "ops"
        for probe, path in zip(("startupProbe", "livenessProbe", "readinessProbe"), paths, strict=True):
            assert c[probe]["httpGet"] == {"path": path, "port": port}, (name, probe)


def test_pods_are_hardened_and_drain(rendered: Rendered) -> None:
    for name, deployment in rendered.by_component("Deployment").items():
        spec = pod(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["terminationGracePeriodSeconds"] >= 30, name
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert mounts_of(c)["tmp"] == "/tmp", (name, c["name"])
            assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"], (name, c["name"])


# Component -> its API ports (Service port name -> port) and the variables that tell the code.
PORTS = {
    "ingestion": {"http": 8080, "grpc": 50051},
    "twin-builder": {"twin-grpc": 50053},
    "publisher": {"http": 8090, "grpc": 50052},
    "triton": {"http": 8000, "grpc": 8001, "metrics": 8002},
}
PORT_VARIABLES = {
    "ingestion": {"TWINWEAR_HTTP_PORT": "8080", "TWINWEAR_GRPC_PORT": "50051"},
    "twin-builder": {"TWINWEAR_TWIN_GRPC_PORT": "50053"},
    "publisher": {"TWINWEAR_HTTP_PORT": "8090", "TWINWEAR_GRPC_PORT": "50052"},
}


def test_services_expose_ports_and_scrape_annotations(rendered: Rendered) -> None:
    services = rendered.by_component("Service")
    deployments = rendered.by_component("Deployment")
    assert set(services) == expected_components(rendered.values)
    for name, svc in services.items():
        assert svc["spec"]["type"] == "ClusterIP"
        scrape_port = 8002 if name == "triton" else OPS_PORT
        assert svc["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(scrape_port),
            "prometheus.io/path": "/metrics",
        }
        ports = {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]}
        expected = {port_name: (port, port_name) for port_name, port in PORTS.get(name, {}).items()}
        if name != "triton":
            expected["ops"] = (OPS_PORT, "ops")
        assert ports == expected, name
        container_ports = {p["name"]: p["containerPort"] for p in container(deployments[name])["ports"]}
        assert all(container_ports[port_name] == port for port_name, (port, _) in expected.items()), name
        env = env_of(container(deployments[name]))
        for variable, value in PORT_VARIABLES.get(name, {}).items():
            assert env[variable]["value"] == value, (name, variable)
    if "render" in deployments:
        triton = rendered.section("triton")
        expected_triton = "twinwear-triton:8001" if triton_enabled(rendered.values) else triton["grpc"]
        assert env_of(container(deployments["render"]))["TWINWEAR_TRITON_GRPC"]["value"] == expected_triton


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
        env = env_of(container(deployment))
        for var, key in (("TWINWEAR_MINIO_ACCESS_KEY", "accessKey"), ("TWINWEAR_MINIO_SECRET_KEY", "secretKey")):
            if name == "triton":  # Triton's models never touch MinIO
                assert var not in env
            else:
                assert env[var] == {"name": var, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}, name


# (value, values section, chart-made Secret, its key, the variable, the components that get it)
TOKENS = [
    (
        API_TOKEN,
        "apiToken",
        "twinwear-api-token",
        "token",
        "TWINWEAR_API_TOKEN",
        {"ingestion", "twin-builder", "publisher"},
    ),
    (
        ADMIN_TOKENS,
        "adminTokens",
        "twinwear-admin-tokens",
        "tokens",
        "TWINWEAR_ADMIN_TOKENS",
        {"twin-builder", "publisher"},
    ),
]


@pytest.mark.parametrize("token", TOKENS, ids=[t[1] for t in TOKENS])
def test_tokens_only_in_their_secret_and_only_where_used(rendered: Rendered, token: tuple) -> None:
    value, section, default_name, key, variable, users = token
    secret_name, data = secret_holding(rendered, value, section, default_name)
    if data is not None:
        assert base64.b64decode(data[key]).decode() == rendered.section(section).get(key, "")
    for name, deployment in rendered.by_component("Deployment").items():
        env = env_of(container(deployment))
        if name in users:
            assert env[variable] == {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
        else:
            assert variable not in env, name


def test_pim_secrets_only_in_secret_and_only_where_used(rendered: Rendered) -> None:
    secret_name, data = secret_holding(rendered, SHOPIFY_SECRET, "pimWebhooks", "twinwear-pim-webhooks")
    secret_holding(rendered, AKENEO_API_PASSWORD, "pimWebhooks", "twinwear-pim-webhooks")
    pim = rendered.section("pimWebhooks")
    if data is not None:
        assert base64.b64decode(data["shopifySecret"]).decode() == pim.get("shopifySecret", "")
        assert base64.b64decode(data["akeneoApiPassword"]).decode() == pim.get("akeneoApi", {}).get("password", "")
    for name, deployment in rendered.by_component("Deployment").items():
        env = env_of(container(deployment))
        if name in {"ingestion", "pim-aggregator"}:  # ingestion's backfill, the aggregator's fetcher
            reference = env["TWINWEAR_AKENEO_API_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": secret_name, "key": "akeneoApiPassword", "optional": True}
            assert env["TWINWEAR_AKENEO_API_URL"]["value"] == pim.get("akeneoApi", {}).get("url", "")
        else:
            assert not any(var.startswith("TWINWEAR_AKENEO") for var in env), name
        if name != "ingestion":
            assert not any(var in env for var in ("TWINWEAR_SHOPIFY_SECRET", "TWINWEAR_SALSIFY_CERT")), name
            continue
        reference = env["TWINWEAR_SHOPIFY_SECRET"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": secret_name, "key": "shopifySecret", "optional": True}
        certificate = env["TWINWEAR_SALSIFY_CERT"]["value"]
        assert certificate.startswith(mounts_of(container(deployment))["salsify-certificate"] + "/")
        assert env["TWINWEAR_SALSIFY_WEBHOOK_URL"]["value"] == pim.get("salsifyWebhookUrl", "")


def test_c2pa_signing_files_only_in_their_secret_and_only_for_the_publisher(rendered: Rendered) -> None:
    secret_name, data = secret_holding(rendered, C2PA_KEY, "c2pa", "twinwear-c2pa")
    c2pa = rendered.section("c2pa")
    if data is not None:
        assert rendered.named("Secret")[secret_name]["type"] == "kubernetes.io/tls"
        assert base64.b64decode(data["tls.key"]).decode() == c2pa.get("key", "")
        assert base64.b64decode(data["tls.crt"]).decode() == c2pa.get("certificate", "")
    for name, deployment in rendered.by_component("Deployment").items():
        env, volumes = env_of(container(deployment)), volumes_of(deployment)
        if name != "publisher":
            assert "c2pa" not in volumes and not any("C2PA" in var for var in env), name
            continue
        secret = volumes["c2pa"]["secret"]
        assert secret["secretName"] == secret_name
        files = {item["key"]: item["path"] for item in secret["items"]}
        mount = mounts_of(container(deployment))["c2pa"]
        assert env["TWINWEAR_C2PA_CERT"]["value"] == f"{mount}/{files['tls.crt']}"
        assert env["TWINWEAR_C2PA_KEY"]["value"] == f"{mount}/{files['tls.key']}"
        assert env["TWINWEAR_C2PA_TSA_URL"]["value"] == c2pa.get("tsaUrl", "")


# (values section, chart-made ConfigMap, its key, the variable, the component that reads the file)
FILES = [
    ("pimMapping", "twinwear-pim-mapping", "mapping.toml", "mapping", "TWINWEAR_PIM_MAPPING", "pim-aggregator"),
    (
        "campaignPolicy",
        "twinwear-campaign-policy",
        "campaign_policy.toml",
        "policy",
        "TWINWEAR_CAMPAIGN_POLICY",
        "twin-builder",
    ),
]


@pytest.mark.parametrize("file", FILES, ids=[f[0] for f in FILES])
def test_files_from_config_maps(rendered: Rendered, file: tuple) -> None:
    section, default_name, key, value_key, variable, user = file
    values = rendered.section(section)
    config_maps = rendered.named("ConfigMap")
    if values.get(value_key) and not values.get("existingConfigMap"):
        assert config_maps[default_name]["data"] == {key: values[value_key]}
    else:
        assert default_name not in config_maps
    for name, deployment in rendered.by_component("Deployment").items():
        env = env_of(container(deployment))
        if name != user or not (values.get(value_key) or values.get("existingConfigMap")):
            assert variable not in env, name  # twin_builder then uses the policy in its image
            continue
        volume_name = default_name.removeprefix("twinwear-")
        volume = volumes_of(deployment)[volume_name]["configMap"]
        assert volume["name"] == (values.get("existingConfigMap") or default_name)
        assert volume["items"] == [{"key": key, "path": key}]
        assert env[variable]["value"] == f"{mounts_of(container(deployment))[volume_name]}/{key}"


def test_aggregator_needs_a_mapping(tools: Tools) -> None:
    proc = subprocess.run(
        [str(tools.helm), "template", "twinwear", str(CHART), "--set", "services.pim_aggregator.enabled=true"],
        cwd=ROOT,
        env=tools.env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "services.pim_aggregator needs pimMapping.mapping or pimMapping.existingConfigMap" in proc.stderr


def test_images_keep_torch_where_it_is_used(rendered: Rendered) -> None:
    for name, deployment in rendered.by_component("Deployment").items():
        key = "renderImage" if name in RENDER_IMAGE_COMPONENTS else "image"
        assert container(deployment)["image"] == image_of(rendered.values, key), name


def test_anny_cache_warmed_where_anny_runs(rendered: Rendered) -> None:
    claim = rendered.section("anny").get("existingClaim")
    for name, deployment in rendered.by_component("Deployment").items():
        main, inits = container(deployment), pod(deployment).get("initContainers", [])
        if name not in ANNY_COMPONENTS:
            assert not inits and "ANNY_CACHE_DIR" not in env_of(main), name
            continue
        (warm,) = inits
        assert warm["args"] == ["twinwear_body.warm_cache"] and warm["image"] == image_of(
            rendered.values, "renderImage"
        )
        cache_dir = env_of(main)["ANNY_CACHE_DIR"]["value"]
        assert env_of(warm)["ANNY_CACHE_DIR"]["value"] == cache_dir, name
        assert mounts_of(warm)["anny-cache"] == mounts_of(main)["anny-cache"] == cache_dir, name
        volume = volumes_of(deployment)["anny-cache"]
        assert volume == (
            {"name": "anny-cache", "persistentVolumeClaim": {"claimName": claim}}
            if claim
            else {"name": "anny-cache", "emptyDir": {"sizeLimit": "4Gi"}}
        ), name


def test_triton_cpu_and_gpu_variants(rendered: Rendered) -> None:
    if not triton_enabled(rendered.values):
        return
    triton = rendered.by_component("Deployment")["triton"]
    c, spec = container(triton), pod(triton)
    repository = next(a for a in c["args"] if a.startswith("--model-repository="))
    assert mounts_of(c)["dshm"] == "/dev/shm" and volumes_of(triton)["dshm"]["emptyDir"]["medium"] == "Memory"
    if gpu_enabled(rendered.values):
        assert repository == "--model-repository=/app/infra/triton/models-gpu"
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert env_of(c)["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "all"
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        assert spec["runtimeClassName"] == "nvidia"
    else:
        assert repository == "--model-repository=/app/infra/triton/models"
        assert "nvidia.com/gpu" not in json.dumps(rendered.docs)
        assert "NVIDIA_DRIVER_CAPABILITIES" not in env_of(c) and "nodeSelector" not in spec


def test_values_reach_the_pods(rendered: Rendered) -> None:
    values = rendered.values
    config = rendered.named("ConfigMap")["twinwear"]
    assert config["data"]["TWINWEAR_KAFKA_BOOTSTRAP"] == values.get("kafka", {}).get("bootstrap", "kafka:9092")
    assert config["data"]["TWINWEAR_MINIO_SECURE"] == str(values.get("minio", {}).get("secure", False)).lower()
    assert config["data"]["TWINWEAR_TOPIC_REPLICATION_FACTOR"] == "3"
    for name, value in values.get("extraConfig", {}).items():
        assert config["data"][name] == str(value)
    deployments = rendered.by_component("Deployment")
    for name, deployment in deployments.items():
        has_triton = "TWINWEAR_TRITON_GRPC" in env_of(container(deployment))
        assert has_triton == (name == "render"), name  # only render talks to Triton
    replicas = values.get("services", {}).get("ingestion", {}).get("replicas", 2)
    assert deployments["ingestion"]["spec"]["replicas"] == replicas
    if "publisher" in deployments:
        env = env_of(container(deployments["publisher"]))
        base_url = values.get("services", {}).get("publisher", {}).get("env", {}).get("TWINWEAR_PUBLIC_BASE_URL", "")
        assert env["TWINWEAR_PUBLIC_BASE_URL"]["value"] == base_url
        assert env["TWINWEAR_LABELLED_CHANNELS"]["value"] == "social"


# skaffold image -> the Dockerfile target it builds and the chart value it sets.
IMAGES = {"twinwear": ("service", "image"), "twinwear-render": ("render", "renderImage")}


def test_skaffold_builds_both_images_and_deploys_chart(yaml) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"].startswith("skaffold/v4beta") and config["kind"] == "Config"
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == set(IMAGES)
    (release,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]) == CHART
    templates = release["setValueTemplates"]
    for image, (target, value) in IMAGES.items():
        artifact = artifacts[image]
        assert (ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]) == ROOT / "Dockerfile"
        assert artifact["docker"]["target"] == target
        variable = image.replace("-", "_")  # skaffold's template names use underscores
        assert templates[f"{value}.repository"] == f"{{{{.IMAGE_REPO_{variable}}}}}"
        assert templates[f"{value}.tag"] == f"{{{{.IMAGE_TAG_{variable}}}}}@{{{{.IMAGE_DIGEST_{variable}}}}}"
    forwarded = {(f["resourceName"], f["port"]) for f in config["portForward"] if f["resourceType"] == "service"}
    api_ports = {(f"twinwear-{name}", port) for name, ports in PORTS.items() for port in ports.values()}
    assert forwarded == api_ports - {("twinwear-triton", 8002)}


def dockerfile_stages() -> dict[str, tuple[str, str]]:
    """Stage name -> (what it is FROM, its instructions), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: dict[str, tuple[str, str]] = {}
    for block in re.split(r"^(?=FROM )", text, flags=re.M)[1:]:
        base, name = re.match(r"FROM (\S+) AS (\S+)", block).groups()
        stages[name] = (base, block)
    return stages


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a requirements file, following -r includes."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            lines += requirement_lines(path.parent / line[3:].strip())
        elif line:
            lines.append(line)
    return lines


def installed_closure(path: Path) -> set[str]:
    """Every distribution that installing ``path`` brings, from the metadata of the packages installed
    here (requirements.txt's full set, on the image's Python version), markers and extras applied."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(line) for line in requirement_lines(path)]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dependencies = requires(req.name) or []
        except PackageNotFoundError:
            pytest.fail(f"{req.name} (needed by {path.name}) is not installed: run infra/bootstrap.sh")
        for dep in map(Requirement, dependencies):
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in req.extras or {""}):
                todo.append(dep)
    return {name for name, _ in seen}


def pip_installs(stage: str) -> list[str]:
    """The requirements files a Dockerfile stage installs with ``pip install ... -r <file>``."""
    return re.findall(r"pip install [^&]*?-r /tmp/requirements/(\S+)", dockerfile_stages()[stage][1])


def test_service_image_installs_no_torch() -> None:
    assert pip_installs("service") == ["service.txt"]
    assert dockerfile_stages()["service"][0] == "base"
    slim = installed_closure(ROOT / "requirements" / "service.txt")
    heavy = {"torch", "anny", "warp-lang", "roma", "opencv-python-headless", "moderngl"}
    assert not slim & heavy
    assert not {name for name in slim if name.startswith("nvidia-")}, "CUDA wheels in the slim image"
    # The check can fail: the render image's set does bring torch.
    assert heavy <= installed_closure(ROOT / "requirements" / "render.txt")
    assert pip_installs("render") == ["render.txt", "triton.txt"]


def test_image_requirements_agree_with_requirements_txt() -> None:
    def pins(lines: list[str]) -> dict[str, str]:
        return {canonicalize_name(Requirement(line).name): line for line in lines}

    full = pins(requirement_lines(ROOT / "requirements.txt"))
    images = {name: pins(requirement_lines(ROOT / "requirements" / name)) for name in ("render.txt", "triton.txt")}
    for name, image_pins in images.items():
        assert {k: full.get(k) for k in image_pins} == image_pins, f"requirements/{name} differs from requirements.txt"
    development_only = {"pytest", "pytest-timeout", "ruff", "hypothesis", "tqdm"}
    unplaced = set(full) - set(images["render.txt"]) - set(images["triton.txt"]) - development_only
    assert not unplaced, f"requirements.txt packages in no image's requirements file: {sorted(unplaced)}"


def test_dockerfile_matches_chart(yaml) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dockerfile_stages()
    assert not re.search(r"^COPY\s+(\./)?gen\b", dockerfile, re.M), "gen/ must be generated in the image"
    assert "infra/gen-protos.sh python /app" in stages["app"][1]
    # The images' UID is what the chart's runAsNonRoot/runAsUser rely on.
    security = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    for target, _ in IMAGES.values():
        body = stages[target][1]
        assert re.search(r'^ENTRYPOINT \["python", "-m"\]$', body, re.M), target
        assert f"USER {security['runAsUser']}:{security['runAsGroup']}" in body, target
        assert "COPY --from=app /app /app" in body, target
    # Where the chart's Triton finds the server and the model repositories.
    render = stages["render"][1]
    assert "--target /opt/pytriton" in render and "python_backend_stubs/3.11/triton_python_backend_stub" in render
    assert "COPY infra/triton/models/ infra/triton/models/" in render
    assert "--kind gpu --repository infra/triton/models-gpu" in render
    # .dockerignore is an allow-list: it must let in what the Dockerfile copies, and not the host's gen/.
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignore and "!gen" not in ignore, ".dockerignore must keep the host's gen/ out of the context"
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        assert any(source.rstrip("/").startswith(allowed[1:]) for allowed in ignore if allowed.startswith("!")), source
