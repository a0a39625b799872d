"""compose.yaml and the Dockerfile as users run them: their structure is checked against the app (services,
settings, CLI options, files copied), and `docker compose config` / `docker-compose config` validates the file
where such a tool is installed. No image is built and nothing is started here (no Docker daemon)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import yaml

from assistant.settings import Settings

from .conftest import ROOT

COMPOSE = ROOT / "compose.yaml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_wires_app_to_chroma_postgres_redis():
    c = _compose()
    assert {"app", "chroma", "postgres", "redis", "ollama"} <= set(c["services"])
    app = c["services"]["app"]
    env = app["environment"]
    assert env["LB_CHROMA_URL"] == "http://chroma:8000"
    assert "--port" in c["services"]["chroma"]["command"] and "8000" in c["services"]["chroma"]["command"]
    assert re.fullmatch(r"postgresql\+psycopg://lernbegleiter:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/lernbegleiter",
                        env["LB_DATABASE_URL"])
    pg = c["services"]["postgres"]["environment"]
    assert pg["POSTGRES_USER"] == "lernbegleiter" and pg["POSTGRES_DB"] == "lernbegleiter"
    assert env["LB_REDIS_URL"] == "redis://redis:6379/0"
    # every LB_ variable is a real setting (a typo would be ignored silently by pydantic-settings)
    fields = {f"LB_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
    assert set(app["depends_on"]) == {"chroma", "postgres", "redis"}
    assert all(d["condition"] == "service_healthy" for d in app["depends_on"].values())
    assert all("healthcheck" in c["services"][s] for s in ("chroma", "postgres", "redis"))
    assert c["services"]["ollama"]["profiles"] == ["llm"]  # optional
    assert app["ports"] == ["127.0.0.1:8000:8000"]  # not open to the world: the reverse proxy fronts it
    volumes = {v.split(":")[0] for s in c["services"].values() for v in s.get("volumes", [])}
    assert {"chroma-data", "postgres-data", "app-data"} <= volumes <= set(c["volumes"])


def test_compose_command_is_a_valid_cli_call():
    cmd = _compose()["services"]["app"]["command"]
    assert cmd[:2] == ["lernbegleiter", "serve"]
    args = [a.replace("${LB_WORKERS:-2}", "2") for a in cmd[2:]]
    help_text = subprocess.run([sys.executable, "-m", "assistant", "serve", "--help"], cwd=ROOT, capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}).stdout
    for opt in (a for a in args if a.startswith("--")):
        assert opt in help_text, opt


def test_dockerfile_copies_what_the_app_reads():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for path in ("assistant", "ingestion", "ui", "prompts", "corpus", "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", text, re.M), path
        assert (ROOT / path).exists()
    assert "'.[postgres]'" in text  # the PostgreSQL driver is an extra; the Redis client is a core dependency
    assert re.search(r'"redis>=', (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0])
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "corpus" not in ignored


def test_compose_config_validates_where_a_tool_exists(tmp_path):
    """`docker compose config` (v2 plugin) or `docker-compose config` (Debian's docker-compose): the file is
    parsed and interpolated by the real tool. Without either, the structural tests above stand alone."""
    tools = []
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        tools.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        tools.append(["docker-compose"])
    if not tools:
        return  # nothing to run here; stated in docs/deploy.md
    env = {**os.environ, "POSTGRES_PASSWORD": "geheim"}
    for tool in tools:
        r = subprocess.run([*tool, "-f", str(COMPOSE), "--profile", "llm", "config"], capture_output=True, text=True,
                           env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        resolved = yaml.safe_load(r.stdout)
        assert "geheim@postgres:5432" in resolved["services"]["app"]["environment"]["LB_DATABASE_URL"]
        assert set(resolved["services"]) == {"app", "chroma", "postgres", "redis", "ollama"}
        # without the password the tool refuses and names the variable
        r = subprocess.run([*tool, "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}, cwd=tmp_path)
        assert r.returncode != 0 and "POSTGRES_PASSWORD" in r.stderr
