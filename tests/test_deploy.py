"""The deployment files under `deploy/` parse and agree with each other and the gateway.

No container engine or cluster runs here, so the files are checked by reading them:
every YAML parses; the Kubernetes probes and Service point at the container's admin
and proxy ports, which are the ports the ConfigMap's gateway config listens on; the
compose stack publishes the ports its gateway config listens on and mounts files that
exist; both gateway configs pass `authgate check-config`; the Dockerfile runs as a
non-root user with a health check on the admin port; the systemd unit has an
ExecStart.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_CONFIG = DEPLOY / "compose" / "authgate.yaml"
AUTHGATE = Path(sys.executable).parent / "authgate"
_DEFAULTED = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>.*))?\}$")


def load_all(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]


def load_one(path: Path) -> Any:
    (doc,) = load_all(path)
    return doc


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object under deploy/kubernetes, by `Kind/name`."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_all(path):
            if doc.get("kind") != "Kustomization":
                found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def listen_port(address: str) -> int:
    return int(address.rpartition(":")[2])


def check_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # --config-only: these configs run in a container, not on this machine.
        [str(AUTHGATE), "check-config", "--config-only", str(path)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


# -- YAML ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs and all(isinstance(doc, dict) for doc in docs)


def test_the_keycloak_realm_parses() -> None:
    realm = json.loads((DEPLOY / "keycloak" / "realm.json").read_text(encoding="utf-8"))
    assert realm["realm"] == "demo" and len(realm["users"]) == 2


# -- Kubernetes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict[str, Any]]:
    return manifests()


@pytest.fixture(scope="module")
def container(k8s: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = k8s["Deployment/authgate"]["spec"]["template"]["spec"]["containers"]
    return dict(only)


@pytest.fixture(scope="module")
def k8s_gateway_config(k8s: dict[str, dict[str, Any]]) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        k8s["ConfigMap/authgate-config"]["data"]["authgate.yaml"]
    )
    return config


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A container port by number or by name."""
    for declared in container["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    raise AssertionError(f"the container declares no port {port!r}")


def test_kustomization_lists_every_manifest() -> None:
    listed = load_one(K8S / "kustomization.yaml")["resources"]
    present = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present


def test_deployment_replicas_and_hardening(
    k8s: dict[str, dict[str, Any]], container: dict[str, Any]
) -> None:
    spec = k8s["Deployment/authgate"]["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]


def test_probes_use_the_admin_port(
    container: dict[str, Any], k8s_gateway_config: dict[str, Any]
) -> None:
    admin = listen_port(k8s_gateway_config["server"]["admin_listen"])
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for kind, probe in probes.items():
        assert container_port(container, probe["port"]) == admin == 9090, kind


def test_service_ports_are_container_ports(
    k8s: dict[str, dict[str, Any]], container: dict[str, Any], k8s_gateway_config: dict[str, Any]
) -> None:
    service = k8s["Service/authgate"]["spec"]
    labels = k8s["Deployment/authgate"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    targets = {p["name"]: container_port(container, p["targetPort"]) for p in service["ports"]}
    assert targets == {
        "http": listen_port(k8s_gateway_config["server"]["listen"]),
        "admin": listen_port(k8s_gateway_config["server"]["admin_listen"]),
    }


def test_config_and_secrets_come_from_the_listed_objects(
    k8s: dict[str, dict[str, Any]], container: dict[str, Any], k8s_gateway_config: dict[str, Any]
) -> None:
    pod = k8s["Deployment/authgate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert f"ConfigMap/{volumes['config']['configMap']['name']}" in k8s
    keys_secret = k8s[f"Secret/{volumes['assertion-keys']['secret']['secretName']}"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"][-1] == f"{mounts['config']}/authgate.yaml"
    key_file = Path(k8s_gateway_config["secrets"]["assertion_keys"])
    assert str(key_file.parent) == mounts["assertion-keys"]
    assert key_file.name in keys_secret["stringData"]
    for variable in container["env"]:
        ref = variable["valueFrom"]["secretKeyRef"]
        assert ref["key"] in k8s[f"Secret/{ref['name']}"]["stringData"], variable["name"]


def test_configmap_config_passes_check_config(
    k8s: dict[str, dict[str, Any]], container: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(k8s["ConfigMap/authgate-config"]["data"]["authgate.yaml"], encoding="utf-8")
    # What the Secret would give, with valid values in place of the placeholders.
    env = {v["name"]: "k8s-test-value-0123456789-0123456789" for v in container["env"]}
    env["AUTHGATE_REDIS_URL"] = "redis://redis:6379/0"
    result = check_config(path, env)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout


def test_autoscaling_and_disruption_budget(k8s: dict[str, dict[str, Any]]) -> None:
    hpa = k8s["HorizontalPodAutoscaler/authgate"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "authgate",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert hpa["spec"]["minReplicas"] >= 3
    pdb = k8s["PodDisruptionBudget/authgate"]
    assert pdb["spec"]["minAvailable"] == 2
    labels = k8s["Deployment/authgate"]["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


# -- compose --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_one(COMPOSE)
    return loaded


@pytest.fixture(scope="module")
def compose_gateway_config() -> dict[str, Any]:
    loaded: dict[str, Any] = load_one(COMPOSE_CONFIG)
    return loaded


def published(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> what the host publishes it as (`[ip:]port`)."""
    ports: dict[int, str] = {}
    for mapping in service.get("ports", []):
        host, _, inside = str(mapping).rpartition(":")
        ports[int(inside)] = host
    return ports


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as compose resolves it with nothing set on the host."""
    env = {}
    for name, value in service["environment"].items():
        found = _DEFAULTED.match(str(value))
        env[name] = (found.group("default") or "") if found else str(value)
    return env


def test_compose_publishes_the_configured_ports(
    compose: dict[str, Any], compose_gateway_config: dict[str, Any]
) -> None:
    ports = published(compose["services"]["authgate"])
    server = compose_gateway_config["server"]
    assert ports[listen_port(server["listen"])] == "8080"
    # The admin listener (metrics) is published on the host's loopback only.
    assert ports[listen_port(server["admin_listen"])] == "127.0.0.1:9090"
    assert published(compose["services"]["keycloak"]) == {8081: "8081"}


def test_compose_mounts_files_that_exist(compose: dict[str, Any]) -> None:
    mounted = {}
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source, target = str(volume).split(":")[:2]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).resolve().is_file(), source
                mounted[target] = (DEPLOY / source).resolve()
    assert mounted["/etc/authgate/authgate.yaml"] == COMPOSE_CONFIG.resolve()
    assert mounted["/opt/keycloak/data/import/realm.json"].name == "realm.json"
    build = compose["services"]["authgate"]["build"]
    assert (
        DEPLOY / build["context"] / build["dockerfile"]
    ).resolve() == DEPLOY.resolve() / "Dockerfile"


def test_compose_wires_keycloak_the_gateway_and_the_app(
    compose: dict[str, Any], compose_gateway_config: dict[str, Any]
) -> None:
    services = compose["services"]
    (provider,) = compose_gateway_config["providers"]
    (route,) = compose_gateway_config["routes"]
    realm = json.loads((DEPLOY / "keycloak" / "realm.json").read_text(encoding="utf-8"))
    (client,) = realm["clients"]
    issuer = _DEFAULTED.match(provider["issuer"])
    assert issuer is not None
    assert (
        issuer.group("default")
        == f"{services['keycloak']['environment']['KC_HOSTNAME']}/realms/demo"
    )
    assert "keycloak.localhost" in services["keycloak"]["networks"]["default"]["aliases"]
    assert client["clientId"] == provider["client_id"]
    assert client["secret"] == compose_env(services["authgate"])["AUTHGATE_KEYCLOAK_CLIENT_SECRET"]
    port = listen_port(compose_gateway_config["server"]["listen"])
    assert client["redirectUris"] == [f"http://{route['match']['host']}:{port}/.authgate/callback"]
    assert provider["claims"]["roles"] == "realm_access.roles"
    # The demo app: the same image, in the gateway's network namespace, on the port
    # the route forwards to.
    whoami = services["whoami"]
    assert whoami["image"] == services["authgate"]["image"]
    assert whoami["network_mode"] == "service:authgate"
    assert whoami["entrypoint"][:3] == ["python", "-m", "authgate.demo.whoami"]
    assert whoami["entrypoint"][-1] == str(listen_port(route["upstream"].rstrip("/")))


def test_compose_gateway_config_passes_check_config(compose: dict[str, Any]) -> None:
    result = check_config(COMPOSE_CONFIG, compose_env(compose["services"]["authgate"]))
    assert (result.returncode, result.stderr) == (0, ""), result.stdout


# -- Dockerfile -----------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            found.append((instruction.upper(), rest.strip()))
    return found


def instructions(name: str) -> list[str]:
    return [rest for instruction, rest in dockerfile() if instruction == name]


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = instructions("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit()  # Kubernetes' runAsNonRoot can only check a numeric uid
    assert len(instructions("FROM")) >= 2  # multi-stage: no build tools in the image


def test_dockerfile_exposes_both_ports_and_checks_health_on_the_admin_port() -> None:
    exposed = {int(port.split("/")[0]) for line in instructions("EXPOSE") for port in line.split()}
    assert exposed == {8080, 9090}
    (healthcheck,) = instructions("HEALTHCHECK")
    assert "CMD" in healthcheck and "127.0.0.1:9090/healthz" in healthcheck
    assert instructions("ENTRYPOINT") == ['["authgate"]']
    assert json.loads(instructions("CMD")[-1]) == ["serve", "-c", "/etc/authgate/authgate.yaml"]


def test_dockerignore_lets_in_what_the_dockerfile_copies() -> None:
    kept = {
        line.removeprefix("!").rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = [
        source
        for line in instructions("COPY")
        if not line.startswith("--from")
        for source in shlex.split(line)[:-1]
    ]
    assert copied and {source.rstrip("/") for source in copied} <= kept
    assert all((REPO / source).exists() for source in copied)


# -- systemd --------------------------------------------------------------------------


def test_systemd_unit_has_an_exec_start() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keep ExecStart's case
    unit.read(DEPLOY / "systemd" / "authgate.service", encoding="utf-8")
    service = unit["Service"]
    assert "serve -c" in service["ExecStart"]
    assert service["User"] not in ("root", "0")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


# -- the state folder (server.state_dir) ------------------------------------------


def test_systemd_unit_creates_the_state_dir_0700() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "authgate.service", encoding="utf-8")
    service = unit["Service"]
    # StateDirectory=authgate is /var/lib/authgate, the default server.state_dir.
    assert (service["StateDirectory"], service["StateDirectoryMode"]) == ("authgate", "0700")


def test_dockerfile_makes_the_state_dir_the_users_own_and_0700() -> None:
    (created,) = [run for run in instructions("RUN") if "/var/lib/authgate" in run]
    assert "chown authgate:authgate /var/lib/authgate" in created
    assert "chmod 0700 /var/lib/authgate" in created
    assert instructions("VOLUME") == ['["/var/lib/authgate"]']


def test_kubernetes_pod_writes_no_state(
    k8s_gateway_config: dict[str, Any], container: dict[str, Any]
) -> None:
    # A read-only root filesystem: the key comes from a mounted Secret, so nothing
    # lives in the (unwritable) state folder and the gateway never touches it.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    state_dir = k8s_gateway_config["server"].get("state_dir", "/var/lib/authgate")
    key_file = Path(k8s_gateway_config["secrets"]["assertion_keys"])
    assert not key_file.is_relative_to(state_dir)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[str(key_file.parent)]["readOnly"] is True


def test_compose_keeps_the_state_dir_on_a_named_volume(
    compose: dict[str, Any], compose_gateway_config: dict[str, Any]
) -> None:
    state_dir = compose_gateway_config["server"].get("state_dir", "/var/lib/authgate")
    volumes = dict(str(v).split(":")[1::-1] for v in compose["services"]["authgate"]["volumes"])
    assert volumes[state_dir] in compose["volumes"]
    assert Path(compose_gateway_config["secrets"]["assertion_keys"]).is_relative_to(state_dir)
