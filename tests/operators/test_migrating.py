"""docs/migrating.md's worked examples: each authgate file passes `check-config` (the
real command) and `authgate explain` decides the allowed and denied cases the source
config (oauth2-proxy, Authelia access_control, Pomerium PPL) decides the same way.
The doc shows each file verbatim, so what the doc says is what is tested."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from authgate.policy.explain_cli import add_explain_arguments, run_explain

REPO = Path(__file__).parents[2]
EXAMPLES = REPO / "docs" / "migrating"
DOC = REPO / "docs" / "migrating.md"
SECRETS = {
    "AUTHGATE_COOKIE_SECRET": "migrating-test-cookie-secret-0123456789abc",
    "CORP_CLIENT_SECRET": "migrating-test-client-secret",
}
NAMES = ("oauth2-proxy", "authelia", "pomerium")

# (example, url, method, identity and facts, decision, rule)
CASES: list[tuple[str, str, str, list[str], str, str]] = [
    # oauth2-proxy: email_domains AND allowed_groups; skip_auth_routes public.
    ("oauth2-proxy", "https://wiki.corp.example.com/page", "GET",
     ["--email", "alice@corp.example.com", "--groups", "staff"], "allow (200)", "routes[wiki].policy.allow[0]"),
    ("oauth2-proxy", "https://wiki.corp.example.com/page", "GET",
     ["--email", "bob@corp.example.com", "--groups", "interns"], "deny (403)", "-"),
    ("oauth2-proxy", "https://wiki.corp.example.com/page", "GET",
     ["--email", "eve@elsewhere.example", "--groups", "staff"], "deny (403)", "-"),
    ("oauth2-proxy", "https://wiki.corp.example.com/static/app.css", "GET", [], "allow (200)", "routes[wiki].public[1]"),
    ("oauth2-proxy", "https://wiki.corp.example.com/page", "GET", [], "login (401)", "-"),
    # Authelia: bypass, methods, subjects, networks + two_factor; default_policy deny.
    ("authelia", "https://status.example.com/", "GET", [], "allow (200)", "routes[status].public[0]"),
    ("authelia", "https://wiki.example.com/api/health", "GET", [], "allow (200)", "routes[wiki].public[0]"),
    ("authelia", "https://wiki.example.com/page", "GET", ["--user", "bob"], "allow (200)", "routes[wiki].policy.allow[0]"),
    ("authelia", "https://wiki.example.com/page", "POST", ["--user", "bob"], "deny (403)", "-"),
    ("authelia", "https://wiki.example.com/page", "POST",
     ["--user", "carol", "--groups", "editors"], "allow (200)", "routes[wiki].policy.allow[1]"),
    ("authelia", "https://wiki.example.com/page", "POST", ["--user", "alice"], "allow (200)", "routes[wiki].policy.allow[2]"),
    ("authelia", "https://wiki.example.com/page", "GET", [], "login (401)", "-"),
    ("authelia", "https://admin.example.com/", "GET",
     ["--user", "carol", "--groups", "admins", "--amr", "pwd,otp", "--ip", "10.1.2.3"],
     "allow (200)", "routes[admin].policy.allow[0]"),
    ("authelia", "https://admin.example.com/", "GET",
     ["--user", "carol", "--groups", "admins", "--amr", "pwd", "--ip", "10.1.2.3"], "deny (403)", "-"),
    ("authelia", "https://admin.example.com/", "GET",
     ["--user", "carol", "--groups", "admins", "--amr", "pwd,otp", "--ip", "203.0.113.5"], "deny (403)", "-"),
    ("authelia", "https://other.example.com/", "GET", ["--user", "alice"], "deny (404)", "-"),
    # Pomerium PPL: allow or, deny precedence, public access.
    ("pomerium", "https://grafana.corp.example.com/d/1", "GET",
     ["--email", "dan@corp.example.com"], "allow (200)", "routes[grafana].policy.allow[0].or[0]"),
    ("pomerium", "https://grafana.corp.example.com/d/1", "GET",
     ["--email", "ann@partner.example", "--groups", "admins"], "allow (200)", "routes[grafana].policy.allow[0].or[1]"),
    ("pomerium", "https://grafana.corp.example.com/d/1", "DELETE", ["--email", "dan@corp.example.com"],
     "deny (403)", "routes[grafana].policy.deny[0]"),
    ("pomerium", "https://grafana.corp.example.com/d/1", "DELETE",
     ["--email", "ann@partner.example", "--groups", "admins"], "allow (200)", "routes[grafana].policy.allow[0].or[1]"),
    ("pomerium", "https://grafana.corp.example.com/d/1", "GET", ["--email", "eve@evil.example"], "deny (403)", "-"),
    ("pomerium", "https://status.corp.example.com/", "GET", [], "allow (200)", "routes[status].public[0]"),
]


def explained(name: str, url: str, method: str, args: list[str]) -> tuple[int, dict[str, str]]:
    parser = argparse.ArgumentParser()
    add_explain_arguments(parser)
    out = io.StringIO()
    argv = ["-c", str(EXAMPLES / f"{name}.yaml"), "--url", url, "--method", method, *args]
    code = run_explain(parser.parse_args(argv), out)
    lines = [line.split(":", 1) for line in out.getvalue().splitlines() if ":" in line]
    return code, {key.strip(): value.strip() for key, value in lines}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("name", NAMES)
def test_each_example_passes_check_config(name: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}, **SECRETS}
    path = f"docs/migrating/{name}.yaml"
    result = subprocess.run(
        # --config-only: the file is the subject, not this machine's ports.
        [sys.executable, "-m", "authgate", "check-config", "--config-only", path],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout.startswith(f"{path}: OK")


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize(("name", "url", "method", "args", "decision", "rule"), CASES)
def test_each_example_decides_as_the_source_config(
    name: str, url: str, method: str, args: list[str], decision: str, rule: str
) -> None:
    code, shown = explained(name, url, method, args)
    assert shown["decision"] == decision, shown
    assert code == (0 if decision.startswith("allow") else 1)
    if rule != "-":
        assert shown["rule"] == rule, shown


@pytest.mark.parametrize("name", NAMES)
def test_each_example_has_allowed_and_denied_cases(name: str) -> None:
    decisions = {c[4].split()[0] for c in CASES if c[0] == name}
    assert {"allow", "deny"} <= decisions


@pytest.mark.parametrize("name", NAMES)
def test_the_doc_shows_each_example_file_verbatim(name: str) -> None:
    text = (EXAMPLES / f"{name}.yaml").read_text()
    assert f"```yaml\n{text}```" in DOC.read_text()


def test_the_readme_links_the_doc() -> None:
    assert "`docs/migrating.md`" in (REPO / "README.md").read_text()
