"""Static checks of the Docker deployment: docker-compose.yml, the Dockerfiles, the
optional override files in deploy/, .env.example and the container health probe.

No Docker engine runs on the development machines, so these tests read the files and
check what a broken deployment would get wrong: a typo in a service name, a setting the
app reads that compose never passes, a secret with a default, a health check on the
wrong port, an unpinned image.
"""

from __future__ import annotations

import http.server
import importlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from api.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
OVERRIDE_FILES = sorted((ROOT / "deploy").glob("compose.*.yml"))
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"
APP_DOCKERFILE = ROOT / "Dockerfile"
FRONTEND_DOCKERFILE = ROOT / "frontend" / "Dockerfile"
SEARXNG_SETTINGS = ROOT / "deploy" / "searxng" / "settings.yml"

APP_SERVICES = ("api", "worker")
HEALTH_PATH = "/api/health"
FRONTEND_PORT = 3000

# Settings from DESIGN.md's table plus the three the brief adds. Checked even before
# engine/config.py exists; SETTINGS_ENV_VARS (when it exists) is checked as well.
DOCUMENTED_SETTINGS: tuple[str, ...] = (
    "DATABASE_URL", "API_HOST", "API_PORT", "APP_ENV", "JWT_SECRET", "JWT_TTL_SECONDS",
    "CORS_ORIGINS", "OLLAMA_URL", "OLLAMA_CHAT_MODEL", "OLLAMA_EMBED_MODEL",
    "EMBEDDING_DIM", "CRAWL4AI_URL", "CRAWL4AI_TOKEN", "SEARXNG_URL", "SMTP_URL",
    "MAIL_FROM", "PUBLIC_URL", "SCRAPE_ALLOW_HOSTS", "SCHEDULER_ENABLED", "TICK_SECONDS",
    "RUN_DEADLINE_SECONDS", "REFRESH_TTL_SECONDS", "WORKER_CONCURRENCY", "LOG_LEVEL",
)

# Settings the app reads that api/worker may leave unset because the app's own default
# is right inside a container. Each needs a reason. Empty today: compose sets them all.
SAFE_TO_LEAVE_UNSET: dict[str, str] = {}

# .env variables that hold secrets: compose must require them (`${VAR:?...}`), never
# fall back to a default, and .env.example must leave them blank.
SECRET_VARS = ("POSTGRES_PASSWORD", "JWT_SECRET", "CRAWL4AI_TOKEN", "SEARXNG_SECRET")
# Container-side variables that carry one of those secrets.
SECRET_CONTAINER_VARS = SECRET_VARS + ("CRAWL4AI_API_TOKEN",)

# Images allowed to float, with the reason. Empty: every image is pinned.
UNPINNED_IMAGE_ALLOWLIST: dict[str, str] = {}

# Values for the required secrets when resolving the file as compose would.
DUMMY_SECRETS = {name: f"test-{name.lower()}-0123456789abcdef" for name in SECRET_VARS}

_VAR_PATTERN = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingRequiredVariable(KeyError):
    pass


def _load_probe() -> Any:
    # deploy/ is not a package; load the script the image installs, by path.
    spec = importlib.util.spec_from_file_location("scouts_healthcheck", ROOT / "deploy" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load_probe()


# --------------------------------------------------------------------------- helpers


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve compose variable syntax the way `docker compose` does (the subset used
    here: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $VAR, $$)."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text.startswith("$$", pos):
            out.append("$")
            pos += 2
            continue
        match = _VAR_PATTERN.match(text, pos) if text[pos] == "$" else None
        if match is None:
            out.append(text[pos])
            pos += 1
            continue
        pos = match.end()
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = not value
        if op in (":-", "-"):
            use_default = unset_or_empty if op == ":-" else value is None
            out.append(interpolate(arg, env) if use_default else value or "")
        elif op in (":?", "?"):
            if (unset_or_empty if op == ":?" else value is None):
                raise MissingRequiredVariable(f"{name}: {arg}")
            out.append(value or "")
        elif op in (":+", "+"):
            use_alt = not unset_or_empty if op == ":+" else value is not None
            out.append(interpolate(arg, env) if use_alt else "")
        else:
            out.append(value or "")
    return "".join(out)


def resolve(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    return node


def referenced_variables(text: str) -> set[str]:
    """Names of every ${VAR} / $VAR compose would interpolate ($$ is an escape)."""
    names: set[str] = set()
    for line in text.splitlines():
        line = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        line = line.replace("$$", "")
        for match in _VAR_PATTERN.finditer(line):
            names.add(match.group("braced") or match.group("bare"))
            # Defaults may themselves reference variables.
            names |= referenced_variables(match.group("arg") or "")
    return names


def env_example_values() -> dict[str, str]:
    """Assignments in .env.example; commented-out `# VAR=value` lines count as documented
    (they show the default) but are returned separately by documented_names()."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def documented_names() -> set[str]:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^\s*(?:#\s*)?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def compose_env() -> dict[str, str]:
    """The environment `docker compose up` would see after `cp .env.example .env` and
    filling in the secrets."""
    env = {k: v for k, v in env_example_values().items()}
    env.update(DUMMY_SECRETS)
    return env


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    return resolve(raw_compose, compose_env())


def service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def is_one_shot(name: str, services: dict[str, Any]) -> bool:
    """A job that runs to completion: never restarted, and awaited by someone."""
    awaited = any(
        depends_on(other).get(name) == "service_completed_successfully"
        for other in services.values()
    )
    return services[name].get("restart") == "no" and awaited


def published_ports(service: dict[str, Any]) -> list[dict[str, str]]:
    """Normalise short and long port syntax to {host_ip, published, target}."""
    result: list[dict[str, str]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            result.append({
                "host_ip": str(entry.get("host_ip", "")),
                "published": str(entry.get("published", "")),
                "target": str(entry["target"]),
            })
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            host_ip, (published, target) = "", parts
        else:
            host_ip, published, target = "", "", parts[0]
        result.append({"host_ip": host_ip, "published": published, "target": target})
    return result


def healthcheck_command(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    if isinstance(test, list):
        return " ".join(test[1:]) if test and test[0] in ("CMD", "CMD-SHELL") else ""
    return test or ""


def urls_in(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z0-9+]*://[^\s'\"()]+", text)


def app_built_services(compose: dict[str, Any]) -> list[str]:
    """Services built from the root Dockerfile (the `scouts` image)."""
    names = []
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = build if isinstance(build, str) else build.get("context", ".")
        if Path(ROOT, context).resolve() == ROOT:
            names.append(name)
    return names


def dockerfile_from_images(path: Path) -> list[str]:
    args: dict[str, str] = {}
    images: list[str] = []
    stages: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        arg = re.match(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line)
        if arg:
            args.setdefault(arg.group(1), arg.group(2))
        src = re.match(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if src:
            image = interpolate(src.group(1), args)
            if image not in stages:
                images.append(image)
            if src.group(2):
                stages.add(src.group(2))
    return images


def dockerfile_commands(path: Path) -> list[list[str]]:
    commands = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(CMD|ENTRYPOINT)\s+(.*)$", line.strip())
        if match:
            body = match.group(2)
            commands.append(json.loads(body) if body.startswith("[") else body.split())
    return commands


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    if ":" not in name:
        return False
    tag = name.split(":", 1)[1]
    return tag not in ("", "latest")


def settings_env_vars() -> tuple[str, ...]:
    if importlib.util.find_spec("engine.config") is None:
        pytest.skip("engine/config.py does not exist yet: SETTINGS_ENV_VARS unavailable")
    # Imported only when present so that a broken module fails loudly instead of skipping.
    config = importlib.import_module("engine.config")
    return tuple(config.SETTINGS_ENV_VARS)


# --------------------------------------------------------------------------- the compose file


@pytest.mark.parametrize("path", [COMPOSE_FILE, *OVERRIDE_FILES], ids=lambda p: p.name)
def test_file_validates_against_compose_spec(path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    data = resolve(load_yaml(path), compose_env())
    # The schema says draft-07 (its $schema URL lacks the '#' jsonschema looks up).
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(data)
    assert "version" not in data, "the Compose Specification dropped the version key"


def test_override_files_exist() -> None:
    names = {path.name for path in OVERRIDE_FILES}
    assert {"compose.localhost-ports.yml", "compose.gpu.yml"} <= names


def test_every_depends_on_target_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target!r}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target} to be healthy but {target} has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", (
                    f"{name} waits for {target} to finish, but {target} would be restarted"
                )


def test_override_files_only_touch_existing_services(compose: dict[str, Any]) -> None:
    for path in OVERRIDE_FILES:
        for name in load_yaml(path).get("services", {}):
            assert name in compose["services"], f"{path.name} names unknown service {name!r}"


def test_every_service_has_healthcheck_or_is_one_shot(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if is_one_shot(name, services):
            assert "healthcheck" not in service or service["healthcheck"].get("disable")
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert healthcheck_command(service).strip(), f"{name} healthcheck has no command"


def test_one_shots_gate_the_app(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for app in APP_SERVICES:
        deps = depends_on(services[app])
        assert deps.get("ollama-pull") == "service_completed_successfully"
        assert deps.get("postgres") == "service_healthy"
    assert depends_on(services["frontend"]).get("api") == "service_healthy"
    # Exactly one migration path: the one-shot, and nothing else runs `scouts migrate`.
    migrators = [name for name, s in services.items() if "migrate" in (s.get("command") or [])]
    assert migrators == ["migrate"]
    for app in APP_SERVICES:
        assert depends_on(services[app]).get("migrate") == "service_completed_successfully"


def test_ollama_pull_fetches_the_models_the_app_uses(raw_compose: dict[str, Any]) -> None:
    env = compose_env()
    env.update({"OLLAMA_CHAT_MODEL": "chat-model:1b", "OLLAMA_EMBED_MODEL": "embed-model"})
    resolved = resolve(raw_compose, env)
    pull = resolved["services"]["ollama-pull"]
    pull_env = service_env(pull)
    # The shell in the container expands $VAR; emulate it with the container's env.
    script = interpolate(" ".join(pull.get("command") or []), pull_env)
    assert "chat-model:1b" in script and "embed-model" in script
    assert pull_env["OLLAMA_HOST"].split(":")[0] == "ollama"
    for app in APP_SERVICES:
        app_env = service_env(resolved["services"][app])
        assert app_env["OLLAMA_CHAT_MODEL"] == "chat-model:1b"
        assert app_env["OLLAMA_EMBED_MODEL"] == "embed-model"
    # Without overrides both sides fall back to the same defaults.
    defaults = resolve(raw_compose, DUMMY_SECRETS)["services"]
    for key in ("OLLAMA_CHAT_MODEL", "OLLAMA_EMBED_MODEL"):
        assert service_env(defaults["ollama-pull"])[key] == service_env(defaults["api"])[key]


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("app", APP_SERVICES)
def test_documented_settings_are_set_for_app(compose: dict[str, Any], app: str) -> None:
    env = service_env(compose["services"][app])
    missing = [
        name for name in DOCUMENTED_SETTINGS
        if name not in env and name not in SAFE_TO_LEAVE_UNSET
    ]
    assert not missing, f"{app} does not set {missing}"
    assert env["APP_ENV"] == "production"
    assert env["API_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("app", APP_SERVICES)
def test_settings_the_app_reads_are_set_for_app(compose: dict[str, Any], app: str) -> None:
    read_by_app = settings_env_vars()
    env = service_env(compose["services"][app])
    missing = [name for name in read_by_app if name not in env and name not in SAFE_TO_LEAVE_UNSET]
    assert not missing, (
        f"{app} does not set {missing}: add them to x-app-environment in docker-compose.yml "
        "or to SAFE_TO_LEAVE_UNSET with the reason the default is right in a container"
    )


def test_only_the_worker_schedules(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert service_env(services["api"])["SCHEDULER_ENABLED"] == "false"
    assert service_env(services["worker"])["SCHEDULER_ENABLED"] == "true"


def test_every_compose_variable_is_documented(raw_compose: dict[str, Any]) -> None:
    documented = documented_names()
    for path in [COMPOSE_FILE, *OVERRIDE_FILES]:
        used = referenced_variables(path.read_text(encoding="utf-8"))
        undocumented = sorted(used - documented)
        assert not undocumented, f"{path.name} uses {undocumented}, absent from .env.example"


def test_env_example_documents_every_setting() -> None:
    documented = documented_names()
    try:
        read_by_app: tuple[str, ...] = settings_env_vars()
    except pytest.skip.Exception:
        read_by_app = ()
    missing = sorted((set(DOCUMENTED_SETTINGS) | set(read_by_app)) - documented)
    assert not missing, f".env.example does not mention {missing}"


def test_env_example_resolves_compose_without_errors(raw_compose: dict[str, Any]) -> None:
    # What a user gets after `cp .env.example .env` and filling in the secrets.
    resolve(raw_compose, compose_env())


@pytest.mark.parametrize("secret", SECRET_VARS)
def test_compose_refuses_to_start_without_each_secret(
    raw_compose: dict[str, Any], secret: str
) -> None:
    env = compose_env()
    env[secret] = ""
    with pytest.raises(MissingRequiredVariable, match=secret):
        resolve(raw_compose, env)


def test_secrets_are_never_hard_coded(raw_compose: dict[str, Any]) -> None:
    names = "|".join(SECRET_VARS)
    required_ref = re.compile(r"^\$\{(" + names + r"):\?[^}]*\}$")
    for name, service in raw_compose["services"].items():
        for key, value in service_env(service).items():
            if key in SECRET_CONTAINER_VARS:
                assert required_ref.match(value), (
                    f"{name}.{key} must be a required ${{VAR:?...}} reference, got {value!r}"
                )
        url = service_env(service).get("DATABASE_URL")
        if url is not None:
            assert re.search(r"://[^@/]*:\$\{POSTGRES_PASSWORD:\?[^}]*\}@", url), (
                f"{name}.DATABASE_URL must take its password from ${{POSTGRES_PASSWORD:?...}}"
            )
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for secret in SECRET_VARS:
        assert not re.search(r"\$\{" + secret + ":?-", text), f"{secret} must not have a default"
    values = env_example_values()
    for secret in SECRET_VARS:
        assert secret in values and values[secret] == "", f".env.example must leave {secret} blank"


def test_searxng_settings_enable_json_without_a_secret(compose: dict[str, Any]) -> None:
    settings = load_yaml(SEARXNG_SETTINGS)
    assert "json" in settings["search"]["formats"]
    assert settings["server"]["limiter"] is False
    assert "secret_key" not in settings.get("server", {})
    mounts = compose["services"]["searxng"]["volumes"]
    source, target = next(
        (m.split(":")[0], m.split(":")[1]) for m in mounts if "settings.yml" in m
    )
    assert (ROOT / source).resolve() == SEARXNG_SETTINGS
    assert target == "/etc/searxng/settings.yml"


def test_crawl4ai_gets_the_token_the_app_sends_and_enough_shm(compose: dict[str, Any]) -> None:
    services = compose["services"]
    crawl_env = service_env(services["crawl4ai"])
    for app in APP_SERVICES:
        assert service_env(services[app])["CRAWL4AI_TOKEN"] == crawl_env["CRAWL4AI_API_TOKEN"]
    shm = str(services["crawl4ai"]["shm_size"]).lower()
    units = {"g": 1024**3, "gb": 1024**3, "m": 1024**2, "mb": 1024**2}
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", shm).groups()  # type: ignore[union-attr]
    assert int(number) * units.get(unit, 1) >= 1024**3


# --------------------------------------------------------------------------- ports and URLs


def test_only_the_frontend_is_published(compose: dict[str, Any]) -> None:
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"frontend"}
    ports = published_ports(compose["services"]["frontend"])
    assert [p["target"] for p in ports] == [str(FRONTEND_PORT)]
    assert service_env(compose["services"]["frontend"]).get("PORT") == str(FRONTEND_PORT)


def test_optional_ports_are_loopback_and_match_settings(compose: dict[str, Any]) -> None:
    path = ROOT / "deploy" / "compose.localhost-ports.yml"
    override = resolve(load_yaml(path), compose_env())
    for name, service in override["services"].items():
        for port in published_ports(service):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes beyond loopback: {port}"
            exposed = [str(p) for p in compose["services"][name].get("expose", [])]
            assert port["target"] in exposed, f"{name} publishes {port['target']}, not exposed"
    api_targets = [p["target"] for p in published_ports(override["services"]["api"])]
    assert api_targets == [service_env(compose["services"]["api"])["API_PORT"]]


def test_api_healthcheck_hits_the_health_endpoint_on_api_port(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    urls = urls_in(healthcheck_command(api))
    assert len(urls) == 1, f"api healthcheck should probe one URL, found {urls}"
    parts = urlsplit(urls[0])
    assert parts.path == HEALTH_PATH
    assert str(parts.port) == service_env(api)["API_PORT"]
    assert parts.hostname in ("127.0.0.1", "localhost")
    assert str(parts.port) in [str(p) for p in api.get("expose", [])]


def test_frontend_healthcheck_and_api_url_match_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    frontend = services["frontend"]
    (url,) = urls_in(healthcheck_command(frontend))
    assert urlsplit(url).port == FRONTEND_PORT
    api_port = service_env(services["api"])["API_PORT"]
    for api_url in (service_env(frontend)["API_URL"], frontend["build"]["args"]["API_URL"]):
        parts = urlsplit(api_url)
        assert (parts.hostname, str(parts.port)) == ("api", api_port)


@pytest.mark.parametrize("app", APP_SERVICES)
def test_service_urls_name_existing_services_and_ports(compose: dict[str, Any], app: str) -> None:
    services = compose["services"]
    env = service_env(services[app])
    checked = []
    for key in ("DATABASE_URL", "OLLAMA_URL", "CRAWL4AI_URL", "SEARXNG_URL", "SMTP_URL"):
        parts = urlsplit(env[key])
        assert parts.hostname in services, f"{app}.{key} points at unknown host {parts.hostname!r}"
        exposed = [str(p) for p in services[parts.hostname].get("expose", [])]
        assert str(parts.port) in exposed, (
            f"{app}.{key} uses port {parts.port}, but {parts.hostname} exposes {exposed}"
        )
        checked.append(key)
    assert len(checked) == 5


def test_service_healthchecks_probe_their_exposed_port(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for url in urls_in(healthcheck_command(service)):
            port = urlsplit(url).port
            assert str(port) in [str(p) for p in service.get("expose", [])] or (
                name == "frontend" and port == FRONTEND_PORT
            ), f"{name} healthcheck probes port {port} it does not expose"


# --------------------------------------------------------------------------- images and commands


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            continue  # built locally; the base images are checked below
        image = service["image"]
        if image in UNPINNED_IMAGE_ALLOWLIST:
            continue
        assert image_is_pinned(image), f"{name} uses unpinned image {image!r}"


@pytest.mark.parametrize("dockerfile", [APP_DOCKERFILE, FRONTEND_DOCKERFILE], ids=["app", "frontend"])
def test_dockerfile_base_images_are_pinned(dockerfile: Path) -> None:
    images = dockerfile_from_images(dockerfile)
    assert images, f"{dockerfile} has no FROM"
    for image in images:
        assert image_is_pinned(image), f"{dockerfile.name} builds FROM unpinned {image!r}"


def test_app_commands_exist_in_project_scripts(compose: dict[str, Any]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = set(pyproject["project"]["scripts"])
    subcommands = {"migrate", "serve", "worker"}
    commands = dockerfile_commands(APP_DOCKERFILE)
    assert commands, "the app Dockerfile has no CMD"
    built = app_built_services(compose)
    assert set(built) >= {"migrate", "api", "worker"}
    for name in built:
        command = compose["services"][name].get("command")
        commands.append(command if isinstance(command, list) else str(command).split())
    parser = build_parser()
    for command in commands:
        assert command[0] in scripts, f"{command[0]!r} is not in [project.scripts] {scripts}"
        assert command[1] in subcommands, f"unknown subcommand in {command}"
        # The real command-line parser must accept every argument the containers pass.
        parser.parse_args(command[1:])


def test_worker_healthcheck_watches_the_file_the_worker_touches(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    command = worker["command"]
    heartbeat = command[command.index("--heartbeat") + 1]
    test = worker["healthcheck"]["test"]
    assert test[test.index("--heartbeat") + 1] == heartbeat
    assert float(test[test.index("--heartbeat") + 2]) >= 300


def test_probe_reads_the_worker_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert healthcheck.main(["--heartbeat", str(beat), "60"]) == 1  # never touched
    beat.touch()
    assert healthcheck.main(["--heartbeat", str(beat), "60"]) == 0
    old = time.time() - 120
    os.utime(beat, (old, old))
    assert healthcheck.main(["--heartbeat", str(beat), "60"]) == 1
    assert healthcheck.main(["--heartbeat", str(beat), "soon"]) == 2


def test_app_image_runs_as_non_root() -> None:
    for dockerfile in (APP_DOCKERFILE, FRONTEND_DOCKERFILE):
        users = re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE)
        assert users and users[-1] not in ("root", "0"), f"{dockerfile} runs as root"


def test_dependencies_install_before_code_is_copied() -> None:
    lines = APP_DOCKERFILE.read_text().splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install -r" in line)
    first_code_copy = next(
        i for i, line in enumerate(lines)
        if line.startswith("COPY") and re.search(r"\b(engine|api)\b", line)
    )
    assert install < first_code_copy


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """When Docker Compose v2 is installed, let it parse the file (needs no engine).
    The legacy Python docker-compose 1.x predates the Compose Specification (it rejects
    the top-level `name`), so it is not used."""
    if not shutil.which("docker") or subprocess.run(
        ["docker", "compose", "version"], capture_output=True
    ).returncode != 0:
        pytest.skip("Docker Compose v2 (`docker compose`) is not installed")
    command = ["docker", "compose"]
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(f"{k}={v}" for k, v in compose_env().items()) + "\n", encoding="utf-8"
    )
    result = subprocess.run(
        [*command, "--project-directory", str(ROOT), "--env-file", str(env_file),
         "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the health probe


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status = 200 if self.path == HEALTH_PATH else 503
        body = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_probe_accepts_2xx_and_rejects_errors(health_server: int) -> None:
    base = f"http://127.0.0.1:{health_server}"
    assert healthcheck.main([base + HEALTH_PATH]) == 0
    assert healthcheck.main([base + "/broken"]) == 1
    assert healthcheck.main([f"http://127.0.0.1:{_closed_port()}{HEALTH_PATH}"]) == 1
    assert healthcheck.main([]) == 2


def test_probe_checks_database_reachability(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://u:p@127.0.0.1:{port}/db")
        assert healthcheck.main(["--database"]) == 0
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://u:p@127.0.0.1:{_closed_port()}/db")
    assert healthcheck.main(["--database"]) == 1
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///./scouts.db")
    assert healthcheck.main(["--database"]) == 0
    monkeypatch.delenv("DATABASE_URL")
    assert healthcheck.main(["--database"]) == 1


def test_probe_reads_default_postgres_port() -> None:
    assert healthcheck.database_address("postgresql+asyncpg://u:p@postgres/db") == ("postgres", 5432)
    assert healthcheck.database_address("sqlite:///x.db") is None
    with pytest.raises(ValueError):
        healthcheck.database_address("postgresql://")


def test_make_env_fills_every_required_secret_once(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    script = ROOT / "scripts" / "make-env"
    subprocess.run([sys.executable, str(script), str(target)], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in target.read_text().splitlines()
                  if line and not line.startswith("#"))
    for name in ("POSTGRES_PASSWORD", "JWT_SECRET", "CRAWL4AI_TOKEN", "SEARXNG_SECRET"):
        assert len(values[name]) == 64 and int(values[name], 16) >= 0, name
    assert len({values["JWT_SECRET"], values["POSTGRES_PASSWORD"]}) == 2
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    before = target.read_text()
    subprocess.run([sys.executable, str(script), str(target)], check=True, capture_output=True)
    assert target.read_text() == before  # never overwritten


def test_crawl4ai_internal_urls_stay_blocked_unless_asked(
    raw_compose: dict[str, Any], compose: dict[str, Any]
) -> None:
    crawl_env = service_env(compose["services"]["crawl4ai"])
    assert crawl_env["CRAWL4AI_ALLOW_INTERNAL_URLS"] == "false"
    on = resolve(raw_compose, {**compose_env(), "CRAWL4AI_ALLOW_INTERNAL_URLS": "true"})
    assert service_env(on["services"]["crawl4ai"])["CRAWL4AI_ALLOW_INTERNAL_URLS"] == "true"


def test_searxng_healthcheck_uses_the_python_its_image_ships(compose: dict[str, Any]) -> None:
    # searxng's container/dist.dockerfile at the pinned commit copies the venv to
    # /usr/local/searxng/.venv and runs granian from it; curl is not in the image.
    test = compose["services"]["searxng"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "/usr/local/searxng/.venv/bin/python"]
    assert "curl" not in test and "wget" not in test


def test_searxng_port_default_agrees_outside_docker() -> None:
    from engine.config import Settings

    settings = load_yaml(SEARXNG_SETTINGS)
    default_port = urlsplit(Settings().searxng_url).port
    assert settings["server"]["port"] == default_port == 8080
