"""`check-config` is one pass, and "OK" means "serve will start" — through the real CLI.

Each bad config of the table is given to both commands: `serve` must refuse it
(exit 1, no traceback) and `check-config` must report it, `file:line key: message`,
exit 1. A good config is OK for `check-config` and `serve` then listens. Warnings
(shadowed route, workforce route without policy) print `warning:` and exit 0.
"""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authgate.mutate.assertion_keys import rotate_key_file

SECRET = "one-pass-check-config-cookie-secret-0123456789"
Config = dict[str, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def authgate(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # A clean environment, as tests/config/test_check_config.py: PYTHONPATH only, so
    # the code under test is the code that runs.
    env = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "authgate", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def base_config(tmp: Path) -> Config:
    return {
        "server": {"listen": f"127.0.0.1:{free_port()}", "state_dir": str(tmp / "state")},
        "secrets": {"cookie_secret": SECRET},
        "routes": [{"id": "app", "match": {"host": "app.test"}, "upstream": "http://127.0.0.1:9"}],
    }


def write(tmp: Path, config: Config) -> Path:
    path = tmp / "authgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def line_of(path: Path, text: str) -> int:
    """The first line of the file containing `text`."""
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if text in line)


def self_signed(folder: Path, name: str = "tls") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return cert_path, key_path


# -- the table: what serve refuses, each with the key check-config must name ----------

Breaker = Callable[[Path, Config], Iterator[None] | None]


def port_in_use(tmp: Path, config: Config) -> Iterator[None]:
    host, port = config["server"]["listen"].rsplit(":", 1)
    taken = socket.socket()
    taken.bind((host, int(port)))
    taken.listen()
    try:
        yield
    finally:
        taken.close()


def admin_on_the_same_port(tmp: Path, config: Config) -> None:
    config["server"]["admin_listen"] = config["server"]["listen"]


def key_file_is_a_folder(tmp: Path, config: Config) -> None:
    (tmp / "keys.pem").mkdir()
    config["secrets"]["assertion_keys"] = str(tmp / "keys.pem")


def key_file_corrupt(tmp: Path, config: Config) -> None:
    (tmp / "keys.pem").write_text("not a key\n")
    config["secrets"]["assertion_keys"] = str(tmp / "keys.pem")


def key_file_uncreatable(tmp: Path, config: Config) -> None:
    (tmp / "a-file").write_text("x")
    config["secrets"]["assertion_keys"] = str(tmp / "a-file" / "keys.pem")


def tls_pair_mismatched(tmp: Path, config: Config) -> None:
    cert, _ = self_signed(tmp, "one")
    _, other_key = self_signed(tmp, "two")
    config["server"]["tls"] = {"cert": str(cert), "key": str(other_key)}


def tls_files_missing(tmp: Path, config: Config) -> None:
    config["server"]["tls"] = {"cert": str(tmp / "no.crt"), "key": str(tmp / "no.key")}


def mtls_ca_missing(tmp: Path, config: Config) -> None:
    cert, key = self_signed(tmp)
    config["server"]["tls"] = {"cert": str(cert), "key": str(key)}
    config["devices"] = {"mtls": {"client_ca": str(tmp / "no-ca.pem")}}


def templates_dir_missing(tmp: Path, config: Config) -> None:
    config["server"]["templates_dir"] = str(tmp / "no-templates")


def template_unknown_page(tmp: Path, config: Config) -> None:
    (tmp / "pages").mkdir()
    (tmp / "pages" / "denid.html").write_text("$reasons $request_id")
    config["server"]["templates_dir"] = str(tmp / "pages")


def state_dir_group_writable(tmp: Path, config: Config) -> None:
    (tmp / "state").mkdir()
    (tmp / "state").chmod(0o770)


def state_dir_under_a_file(tmp: Path, config: Config) -> None:
    (tmp / "a-file").write_text("x")
    config["server"]["state_dir"] = str(tmp / "a-file" / "state")


def state_dir_is_a_file(tmp: Path, config: Config) -> None:
    (tmp / "state").write_text("x")


def geoip_missing(tmp: Path, config: Config) -> None:
    config["geoip"] = {"city": str(tmp / "no-city.mmdb")}


def geoip_corrupt(tmp: Path, config: Config) -> None:
    (tmp / "asn.mmdb").write_bytes(b"not a database" * 10)
    config["geoip"] = {"asn": str(tmp / "asn.mmdb")}


def decision_log_folder_missing(tmp: Path, config: Config) -> None:
    config["decision_log"] = {"sinks": [{"file": str(tmp / "no-logs" / "decisions.jsonl")}]}


def decision_log_is_a_folder(tmp: Path, config: Config) -> None:
    (tmp / "decisions.jsonl").mkdir()
    config["decision_log"] = {"sinks": ["stdout", {"file": str(tmp / "decisions.jsonl")}]}


BAD: list[Any] = [
    pytest.param(port_in_use, "server.listen", "now", id="port-in-use"),
    pytest.param(admin_on_the_same_port, "server.admin_listen", "now", id="admin-port-taken"),
    pytest.param(key_file_is_a_folder, "secrets.assertion_keys", "cannot read", id="key-unreadable"),
    pytest.param(key_file_corrupt, "secrets.assertion_keys", "no PEM private key", id="key-corrupt"),
    pytest.param(key_file_uncreatable, "secrets.assertion_keys", "cannot create", id="key-uncreatable"),
    pytest.param(tls_pair_mismatched, "server.tls", "cannot load the TLS", id="tls-bad-pair"),
    pytest.param(tls_files_missing, "server.tls", "No such file", id="tls-missing"),
    pytest.param(mtls_ca_missing, "devices.mtls.client_ca", "client CA", id="mtls-ca-missing"),
    pytest.param(templates_dir_missing, "server.templates_dir", "does not exist", id="templates-missing"),
    pytest.param(template_unknown_page, "server.templates_dir", "denid.html", id="template-typo"),
    pytest.param(state_dir_group_writable, "server.state_dir", "writable by group", id="state-dir-mode"),
    pytest.param(state_dir_under_a_file, "server.state_dir", "cannot create", id="state-dir-uncreatable"),
    pytest.param(state_dir_is_a_file, "server.state_dir", "not a folder", id="state-dir-a-file"),
    pytest.param(geoip_missing, "geoip.city", "no such file", id="geoip-missing"),
    pytest.param(geoip_corrupt, "geoip.asn", "asn.mmdb", id="geoip-corrupt"),
    pytest.param(decision_log_folder_missing, "decision_log.sinks[0].file", "does not exist", id="log-folder-missing"),
    pytest.param(decision_log_is_a_folder, "decision_log.sinks[1].file", "Is a directory", id="log-is-a-folder"),
]  # fmt: skip


def broken(tmp: Path, breaker: Breaker) -> tuple[Path, Iterator[None] | None]:
    config = base_config(tmp)
    held = breaker(tmp, config)
    return write(tmp, config), held


@pytest.mark.parametrize(("breaker", "key", "words"), BAD)
def test_what_serve_refuses_check_config_reports(
    tmp_path: Path, breaker: Breaker, key: str, words: str
) -> None:
    path, held = broken(tmp_path, breaker)
    try:
        if held is not None:
            next(held)
        served = authgate("serve", "-c", str(path), cwd=tmp_path, timeout=60)
        checked = authgate("check-config", str(path), cwd=tmp_path)
    finally:
        if held is not None:
            next(held, None)
    assert served.returncode == 1, served.stderr
    assert "Traceback" not in served.stderr, served.stderr
    assert "cannot start" in served.stderr
    assert (checked.returncode, checked.stderr) == (1, ""), checked.stdout
    [line] = [line for line in checked.stdout.splitlines() if f" {key}: " in line]
    top = key.split(".")[0].split("[")[0]
    section = key.split(".")[1].split("[")[0] if "." in key else top
    # file:line key: message, on the line of the setting (or of its section).
    where = line.split(" ", 1)[0]
    assert where.startswith(f"{path}:"), line
    assert int(where.rsplit(":", 1)[1]) >= line_of(path, f"{section}:") - 1, line
    assert words in line, line


def test_every_problem_of_every_stage_in_one_run(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    config["server"]["templates_dir"] = str(tmp_path / "no-templates")
    config["server"]["tls"] = {"cert": str(tmp_path / "no.crt"), "key": str(tmp_path / "no.key")}
    config["geoip"] = {"city": str(tmp_path / "no.mmdb"), "asn": str(tmp_path / "no2.mmdb")}
    config["decision_log"] = {"sinks": [{"file": str(tmp_path / "none" / "d.jsonl")}]}
    config["routes"][0]["providers"] = ["nobody"]  # a reference problem
    config["routes"].append({"id": "bad", "match": {"host": "b.test", "path_glob": "/**a*b**"},
                             "upstream": "http://127.0.0.1:9"})  # a compile problem  # fmt: skip
    path = write(tmp_path, config)
    (tmp_path / "state").mkdir(mode=0o777)
    (tmp_path / "state").chmod(0o777)
    checked = authgate("check-config", str(path), cwd=tmp_path)
    assert checked.returncode == 1
    keys = [line.split(": ", 1)[0].split(" ", 1)[1] for line in checked.stdout.splitlines()]
    assert sorted(keys) == sorted([
        "server.tls", "server.templates_dir", "server.state_dir", "geoip.city", "geoip.asn",
        "decision_log.sinks[0].file", "routes[0].providers[0]", "routes[1].match.path_glob",
    ]), checked.stdout  # fmt: skip
    numbers = [int(line.split(" ", 1)[0].rsplit(":", 1)[1]) for line in checked.stdout.splitlines()]
    assert numbers == sorted(numbers)  # file order


def test_a_good_config_is_ok_and_serve_then_starts(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    cert, key = self_signed(tmp_path)
    ca, _ = self_signed(tmp_path, "ca")
    config["server"]["tls"] = {"cert": str(cert), "key": str(key)}
    config["server"]["admin_listen"] = f"127.0.0.1:{free_port()}"
    config["devices"] = {"mtls": {"client_ca": str(ca)}}
    config["decision_log"] = {"sinks": [{"file": str(tmp_path / "decisions.jsonl")}]}
    path = write(tmp_path, config)
    checked = authgate("check-config", str(path), cwd=tmp_path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout
    assert checked.stdout.endswith("OK — 1 route, 1 host, listen "
                                   f"{config['server']['listen']} (ports free now)\n")  # fmt: skip
    # Checking changed nothing on the host: no folder, key or log file created.
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "decisions.jsonl").exists()
    env = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    process = subprocess.Popen(
        [sys.executable, "-m", "authgate", "serve", "-c", str(path)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "authgate listening on" in line or "cannot start" in line:
                break
        assert "authgate listening on" in line, line
        host, port = config["server"]["listen"].rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def test_config_only_skips_the_host(tmp_path: Path) -> None:
    path, _ = broken(tmp_path, templates_dir_missing)
    checked = authgate("check-config", "--config-only", str(path), cwd=tmp_path)
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout.endswith("listen " + base_listen(path) + "\n")


def base_listen(path: Path) -> str:
    return str(yaml.safe_load(path.read_text())["server"]["listen"])


# -- warnings ------------------------------------------------------------------------


def route(route_id: str, match: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": route_id, "match": match, "upstream": "http://127.0.0.1:9", **extra}


def test_warnings_are_printed_and_the_exit_code_stays_0(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    config["routes"] = [
        route("api", {"host": "app.test", "path_prefix": "/api"}),
        route("api-v1", {"host": "app.test", "path_prefix": "/api/v1", "methods": ["GET"]}),
        route("staff", {"host": "staff.test"}, audience="workforce"),
        route("staff-ok", {"host": "staff2.test"}, audience="workforce",
              policy={"allow": [{"groups": ["staff"]}]}),
    ]  # fmt: skip
    path = write(tmp_path, config)
    checked = authgate("check-config", str(path), cwd=tmp_path)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stdout
    *warnings, ok = checked.stdout.splitlines()
    assert "OK — 4 routes" in ok
    shadow_line = line_of(path, "id: api-v1") + 1  # the `match:` below it
    assert warnings[0].startswith(f"{path}:{shadow_line} routes[1].match: warning: never reached: "
                                  "routes[0] ('api') comes first")  # fmt: skip
    assert warnings[1].startswith(
        f"{path}:{line_of(path, 'audience: workforce')} routes[2].audience: warning: "
    )
    assert len(warnings) == 2, checked.stdout


def test_a_state_dir_others_may_read_is_a_warning_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state").chmod(0o755)
    path = write(tmp_path, base_config(tmp_path))
    checked = authgate("check-config", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    [warning, _] = checked.stdout.splitlines()
    assert f"server.state_dir: warning: {tmp_path / 'state'}: readable by group or others" in warning


def test_serve_too_prints_every_host_problem_at_once(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    config["server"]["templates_dir"] = str(tmp_path / "no-templates")
    config["geoip"] = {"city": str(tmp_path / "no.mmdb")}
    config["decision_log"] = {"sinks": [{"file": str(tmp_path / "none" / "d.jsonl")}]}
    served = authgate("serve", "-c", str(write(tmp_path, config)), cwd=tmp_path)
    assert served.returncode == 1
    refusals = [line for line in served.stderr.splitlines() if "cannot start" in line]
    assert [line.split()[3] for line in refusals] == [
        "server.templates_dir", "geoip.city", "decision_log.sinks[0].file"
    ], served.stderr


def test_a_key_file_others_may_read_is_a_warning(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    config["secrets"]["assertion_keys"] = str(tmp_path / "keys.pem")
    path = write(tmp_path, config)
    # serve creates the key file (0600); loosen it as a careless copy would.
    rotate_key_file(tmp_path / "keys.pem")
    (tmp_path / "keys.pem").chmod(0o644)
    checked = authgate("check-config", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    [warning, _] = checked.stdout.splitlines()
    assert "secrets.assertion_keys: warning: assertion key file" in warning
    assert "readable by others (mode 644): chmod 600" in warning
