"""Static checks of the production deployment: docker-compose.yml, .env.example, Dockerfile.

No container engine is needed (and this machine has none): the files are read as data and
checked against the code they drive, so a renamed setting or CLI option breaks a test here
instead of a deployment.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import typer
import typer.core
import typer.main
import yaml

from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
ENV_EXAMPLE_TEXT = (ROOT / ".env.example").read_text(encoding="utf-8")
DOCKERFILE_TEXT = (ROOT / "Dockerfile").read_text(encoding="utf-8")

# ${NAME}, ${NAME:-default}, ${NAME:?message}; "$${" is compose's escape for a literal "${".
INTERPOLATION = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}")
# A required interpolation with no fallback value: the only acceptable form for a secret.
REQUIRED_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|KEK|TOKEN|AUTH")
KURA_VARIABLE = re.compile(r"\bKURA_[A-Z0-9_]+\b")
# scheme://user:password@host, where user and password may be ${...} (which hold spaces).
URL_WITH_PASSWORD = re.compile(
    r"://(?:\$\{[^}]*\}|[^:/@\s$])*:(?P<password>(?:\$\{[^}]*\}|[^@\s$])*)@"
)
ENV_EXAMPLE_LINE = re.compile(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def compose_strings(node: object = COMPOSE) -> list[str]:
    """Every string in the parsed compose file, keys included; comments are not data."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in [key, *compose_strings(value)]]
    if isinstance(node, list):
        return [text for item in node for text in compose_strings(item)]
    return [node] if isinstance(node, str) else []


def compose_interpolations() -> list[re.Match[str]]:
    return [match for text in compose_strings() for match in INTERPOLATION.finditer(text)]


def service_environment(service: dict) -> dict[str, str]:
    """A service's environment as a mapping, whichever of the two compose forms it uses."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def command_words(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def env_example_variables() -> dict[str, str]:
    """Variables of .env.example, the commented-out ones included, with their values."""
    variables = {}
    for line in ENV_EXAMPLE_TEXT.splitlines():
        match = ENV_EXAMPLE_LINE.match(line.strip())
        if match:
            variables[match["name"]] = match["value"]
    return variables


def one_shot_services() -> set[str]:
    """Services that run once and exit, which others wait for to complete successfully."""
    awaited = {
        name
        for service in SERVICES.values()
        for name, dependency in (service.get("depends_on") or {}).items()
        if dependency.get("condition") == "service_completed_successfully"
    }
    return {name for name in awaited if SERVICES[name].get("restart") == "no"}


def dockerfile_cmd() -> list[str]:
    match = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE_TEXT, re.MULTILINE)
    assert match, "Dockerfile has no exec-form CMD"
    return json.loads(match[1])


def kura_command_lines() -> dict[str, list[str]]:
    """Every `kura ...` command line the deployment runs, by where it is written."""
    lines = {
        f"service {name}": command_words(service)
        for name, service in SERVICES.items()
        if command_words(service)[:1] == ["kura"]
    }
    lines["Dockerfile CMD"] = dockerfile_cmd()
    return lines


def is_group(command: object) -> bool:
    # Typer vendors its own copy of click, so its groups are not click.Group instances:
    # a group is whatever can look up subcommands by name.
    return hasattr(command, "get_command") and hasattr(command, "list_commands")


def resolve_kura_command(words: list[str]) -> tuple[typer.core.TyperCommand, list[str]]:
    """Follow the words of `kura a b --opt x` down the Typer app's groups.

    Returns the command reached and the words left for it (its options and arguments).
    """
    import kura.cli  # written by the lead; these tests wait for it

    command = typer.main.get_command(kura.cli.app)
    context = typer.Context(command, info_name="kura")
    remaining = list(words[1:])
    path = ["kura"]
    while is_group(command) and remaining and not remaining[0].startswith("-"):
        name = remaining.pop(0)
        subcommand = command.get_command(context, name)
        assert subcommand is not None, f"`{' '.join(path)}` has no command {name!r}"
        path.append(name)
        command = subcommand
        context = typer.Context(command, info_name=name, parent=context)
    assert not is_group(command), f"`{' '.join(path)}` is a group, not a command"
    return command, remaining


def test_every_service_has_a_healthcheck_or_is_a_one_shot_job():
    one_shots = one_shot_services()
    for name, service in SERVICES.items():
        healthcheck = service.get("healthcheck") or {}
        has_healthcheck = bool(healthcheck.get("test")) and not healthcheck.get("disable")
        assert has_healthcheck or name in one_shots, (
            f"{name} has no healthcheck and is not a one-shot job (restart: 'no' and "
            "awaited by another service with service_completed_successfully)"
        )


def test_dependencies_wait_for_the_right_condition():
    expected = {
        "minio-init": {"minio": "service_healthy"},
        "migrate": {"postgres": "service_healthy"},
        "web": {"migrate": "service_completed_successfully"},
        "worker": {
            "redis": "service_healthy",
            "migrate": "service_completed_successfully",
            "minio-init": "service_completed_successfully",
        },
    }
    for name, dependencies in expected.items():
        depends_on = SERVICES[name].get("depends_on") or {}
        for dependency, condition in dependencies.items():
            assert depends_on.get(dependency, {}).get("condition") == condition, (
                f"{name} should wait for {dependency} with {condition}"
            )


def test_healthy_conditions_point_at_services_with_healthchecks():
    for name, service in SERVICES.items():
        for dependency, settings in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"
            if settings.get("condition") == "service_healthy":
                assert SERVICES[dependency].get("healthcheck"), (
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )


def test_volumes_are_named_and_declared():
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            assert source in declared, f"{name} mounts {source!r}, not a declared named volume"


def test_kura_variables_are_settings_fields():
    fields = {f"KURA_{field.upper()}" for field in Settings.model_fields}
    for where, text in [
        ("docker-compose.yml", COMPOSE_TEXT),
        (".env.example", ENV_EXAMPLE_TEXT),
        ("Dockerfile", DOCKERFILE_TEXT),
    ]:
        unknown = set(KURA_VARIABLE.findall(text)) - fields
        assert not unknown, f"{where} uses {sorted(unknown)}, which Settings does not read"


def test_every_interpolated_variable_is_in_env_example():
    interpolated = {match["name"] for match in compose_interpolations()}
    missing = interpolated - set(env_example_variables())
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_leaves_secrets_empty():
    # An empty secret makes ${NAME:?...} stop compose, so a copied but unedited
    # .env.example cannot start a deployment with a published placeholder password.
    for name, value in env_example_variables().items():
        if SECRET_NAME.search(name):
            assert value == "", f".env.example gives {name} a value; leave secrets empty"


def test_no_literal_secrets_in_compose():
    for name, service in SERVICES.items():
        for variable, value in service_environment(service).items():
            if SECRET_NAME.search(variable):
                assert REQUIRED_INTERPOLATION.fullmatch(value), (
                    f"{name}: {variable} must be a required ${{...:?...}} interpolation, "
                    f"not {value!r}"
                )
            for url in URL_WITH_PASSWORD.finditer(value):
                assert REQUIRED_INTERPOLATION.fullmatch(url["password"]), (
                    f"{name}: {variable} has a literal password in its URL"
                )
    for match in compose_interpolations():
        if SECRET_NAME.search(match["name"]):
            assert match["rest"].startswith(":?"), (
                f"${{{match['name']}{match['rest']}}} may fall back to a value; use :? instead"
            )


def test_minio_init_creates_the_bucket_with_object_lock():
    script = "\n".join(command_words(SERVICES["minio-init"]))
    make_bucket = [line for line in script.splitlines() if line.strip().startswith("mc mb ")]
    assert make_bucket, "minio-init does not create the bucket with `mc mb`"
    assert all("--with-lock" in line for line in make_bucket), "bucket made without Object Lock"
    assert all("--ignore-existing" in line for line in make_bucket), "a second run would fail"
    assert "mc version enable" in script


def test_minio_init_script_is_valid_shell():
    # Compose turns "$$" into "$" before the shell sees the script.
    script = "\n".join(command_words(SERVICES["minio-init"])).replace("$$", "$")
    result = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_python_healthchecks_compile():
    for name, service in SERVICES.items():
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3].replace("$$", "$"), f"{name} healthcheck", "exec")


def test_dockerfile_installs_the_system_packages_and_drops_root():
    for package in [
        "tesseract-ocr",
        "tesseract-ocr-jpn",
        "poppler-utils",
        "fonts-noto-cjk",
        "fonts-ipaexfont",
        "fonts-klee",
        "fonts-seto",
    ]:
        assert re.search(rf"^\s+{re.escape(package)}\b", DOCKERFILE_TEXT, re.MULTILINE), package
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE_TEXT, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"


@pytest.mark.parametrize("where", sorted(kura_command_lines()))
def test_kura_commands_exist_in_the_cli(where):
    words = kura_command_lines()[where]
    command, arguments = resolve_kura_command(words)
    option_names = {
        option
        for parameter in command.params
        for option in [*parameter.opts, *parameter.secondary_opts]
        if option.startswith("-")
    }
    for word in arguments:
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            assert option in option_names, f"`{' '.join(words)}`: no option {option}"
    # Parsing the whole line also checks option values (e.g. that 2 is an int) and that
    # nothing is left over, without running the command.
    command.make_context("kura", list(arguments), resilient_parsing=False)
