"""The Dockerfile and compose.yaml, checked without a container engine (none runs
on the CI machine; ADR 0058): every command a service runs is a command of the
`cases` CLI with options it accepts, the one-shot jobs run before what needs
them, and the image is built as the ADR says (hadolint's main rules, by hand)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]  # no stubs in the environment (types-PyYAML)

from cases.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
CLI = typer.main.get_command(app)
_DEFAULTED = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")  # ${NAME:-default}
OURS_URL = "postgresql://cases:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@postgres:5432/cases"
OURS = sorted(name for name, s in SERVICES.items() if str(s.get("image", "")).startswith("cases:"))


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _entrypoint(service: dict[str, Any]) -> list[str]:
    if "entrypoint" in service:
        return list(service["entrypoint"])
    [entry] = [rest for keyword, rest in _instructions() if keyword == "ENTRYPOINT"]
    return list(yaml.safe_load(entry))


def cases_invocations(service: dict[str, Any]) -> list[list[str]]:
    """The `cases` command lines the service runs, with ${NAME:-default} given
    its default: the command itself, or each `cases ...` of an `sh -c` script."""
    entrypoint = _entrypoint(service)
    command = [_DEFAULTED.sub(r"\1", str(word)) for word in service.get("command", [])]
    if entrypoint == ["cases"]:
        return [command]
    assert entrypoint == ["sh", "-c"], entrypoint
    [script] = command
    words = shlex.split(script.replace("$$", "$"), posix=True)
    invocations: list[list[str]] = []
    for i, word in enumerate(words):
        if word == "cases":
            rest = []
            for following in words[i + 1 :]:
                if following in {"&&", "||", ";", "done", "then", "fi"} or following.endswith(";"):
                    if following.endswith(";") and following != ";":
                        rest.append(following[:-1])
                    break
                rest.append(following)
            invocations.append(rest)
    return invocations


def parse_command_line(args: list[str]) -> Any:
    """The CLI's own parsing of `args` (typer's click context): the subcommand must
    exist and accept them."""
    command: Any = CLI
    ctx = command.make_context("cases", list(args), resilient_parsing=False)
    remaining = list(args)
    while hasattr(command, "resolve_command"):  # a group (typer vendors click)
        # a group's parse keeps its own options: what is left is the subcommand's
        remaining = remaining[len(remaining) - len(ctx.args) - 1 :]
        assert remaining, f"`cases {' '.join(args)}` names no command"
        name, sub, rest = command.resolve_command(ctx, remaining)
        assert sub is not None, args
        assert name is not None, args
        command = sub
        ctx = command.make_context(name, list(rest), parent=ctx, resilient_parsing=False)
        remaining = list(rest)
    return ctx


class TestCompose:
    def test_runs_the_store_the_jobs_the_api_and_the_followers(self) -> None:
        assert {"postgres", "migrate", "audit-key", "api", "followers", "clocks"} <= set(SERVICES)
        assert _DEFAULTED.sub(r"\1", SERVICES["postgres"]["image"]) == "postgres:15-bookworm"

    def test_builds_on_the_dockerfiles_python_unless_told_otherwise(self) -> None:
        """compose's default base is the Dockerfile's own (a stand-in only when named)."""
        [default] = [rest for keyword, rest in _instructions() if keyword == "ARG"]
        built_on = _DEFAULTED.sub(r"\1", SERVICES["api"]["build"]["args"]["PYTHON_IMAGE"])
        assert f"PYTHON_IMAGE={built_on}" == default

    @pytest.mark.parametrize("name", OURS)
    def test_each_command_is_a_cases_command_with_options_it_takes(self, name: str) -> None:
        invocations = cases_invocations(SERVICES[name])
        assert invocations, f"{name} runs no cases command"
        for args in invocations:
            ctx = parse_command_line(args)
            assert ctx.command.callback is not None, args

    def test_the_commands_are_the_ones_for_each_job(self) -> None:
        assert cases_invocations(SERVICES["migrate"]) == [["migrate"]]
        assert cases_invocations(SERVICES["audit-key"])[0][:2] == ["audit", "keygen"]
        [follow] = cases_invocations(SERVICES["followers"])
        assert follow[:2] == ["projections", "run"]
        assert cases_invocations(SERVICES["clocks"]) == [["clocks", "evaluate"]]
        [serve] = cases_invocations(SERVICES["api"])
        assert serve[0] == "serve"
        assert serve[serve.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - in its container

    def test_a_bad_command_would_be_caught(self) -> None:
        """The check above refuses what the CLI refuses."""
        with pytest.raises(Exception, match="No such command"):
            parse_command_line(["projections", "follow"])
        with pytest.raises(Exception, match="No such option"):
            parse_command_line(["serve", "--threads", "2"])
        with pytest.raises(Exception, match="valid integer"):
            parse_command_line(["serve", "--workers", "two"])

    def test_one_shot_jobs_finish_before_what_needs_them(self) -> None:
        for name in ("migrate", "audit-key"):
            assert SERVICES[name]["restart"] == "no"
        assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        for name in ("api", "followers", "clocks"):
            needs = SERVICES[name]["depends_on"]
            assert needs["migrate"]["condition"] == "service_completed_successfully", name
        assert SERVICES["followers"]["depends_on"]["audit-key"]["condition"] == (
            "service_completed_successfully"
        )

    def test_every_process_of_ours_shares_the_store_and_the_key(self) -> None:
        for name in OURS:
            service = SERVICES[name]
            env = service["environment"]
            assert env["CASES_DATABASE_URL"] == OURS_URL, name
            assert env["CASES_AUDIT_LOG_KEY_FILE"] == "/var/lib/cases/keys/audit-log.key", name
            assert "audit-key:/var/lib/cases/keys" in service["volumes"], name
            assert "user" not in service, f"{name} runs as the image's user"

    def test_no_metrics_directory_is_shared_between_containers(self) -> None:
        """prometheus-client names a process's files by its pid, and pids repeat
        from one container to the next (each starts at 1): a shared directory
        would have two processes write one file. `serve` makes its own."""
        assert "PROMETHEUS_MULTIPROC_DIR" not in DOCKERFILE
        for name in OURS:
            assert "PROMETHEUS_MULTIPROC_DIR" not in SERVICES[name]["environment"], name

    def test_prometheus_scrapes_the_api_and_the_followers_where_they_listen(self) -> None:
        """The monitoring profile's scrape targets are the ports the API and the
        followers' command lines listen on, on every interface of their container."""
        config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
        targets = {
            job["job_name"]: target
            for job in config["scrape_configs"]
            for static in job["static_configs"]
            for target in static["targets"]
        }
        [follow] = cases_invocations(SERVICES["followers"])
        [serve] = cases_invocations(SERVICES["api"])
        for args, option in ((follow, "--metrics-"), (serve, "--")):
            assert args[args.index(f"{option}host") + 1] == "0.0.0.0"  # noqa: S104
        assert targets == {
            "cases-api": f"api:{serve[serve.index('--port') + 1]}",
            "cases-followers": f"followers:{follow[follow.index('--metrics-port') + 1]}",
        }
        prometheus = SERVICES["prometheus"]
        assert prometheus["profiles"] == ["monitoring"]
        assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]

    def test_the_api_publishes_its_port_and_a_health_check(self) -> None:
        api = SERVICES["api"]
        assert api["ports"] == ["${CASES_API_PORT:-8000}:8000"]
        assert "http://127.0.0.1:8000/health" in " ".join(api["healthcheck"]["test"])
        [expose] = [rest for keyword, rest in _instructions() if keyword == "EXPOSE"]
        assert expose == "8000"

    def test_no_secret_is_written_in_the_file(self) -> None:
        assert "${POSTGRES_PASSWORD:?" in SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
        for name, service in SERVICES.items():
            for variable, value in service.get("environment", {}).items():
                if "PASSWORD" in variable or "SECRET" in variable or "KEY" in variable:
                    assert str(value).startswith(("${", "/")), (name, variable)
            url = service.get("environment", {}).get("CASES_DATABASE_URL", "")
            assert url in {"", OURS_URL}, name


class TestDockerfile:
    def test_builds_in_stages_and_runs_the_last_one(self) -> None:
        stages = [rest for keyword, rest in _instructions() if keyword == "FROM"]
        assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
        [image] = [rest for keyword, rest in _instructions() if keyword == "ARG"]
        assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[1-9]-slim-bookworm", image)  # no :latest

    def test_runs_as_an_unprivileged_user(self) -> None:
        """hadolint DL3002: the last USER is not root."""
        users = [rest for keyword, rest in _instructions() if keyword == "USER"]
        assert users
        assert users[-1].split(":")[0] not in {"root", "0"}

    def test_installs_the_locked_dependencies_with_hashes_then_the_wheel(self) -> None:
        runs = [rest for keyword, rest in _instructions() if keyword == "RUN"]
        locked = next(r for r in runs if "requirements" in r or "runtime.txt" in r)
        assert "--require-hashes" in locked
        assert "-r /tmp/runtime.txt" in locked
        wheel = next(r for r in runs if "/tmp/dist/*.whl" in r)  # noqa: S108 - the image's
        assert "--no-deps" in wheel  # nothing resolved beyond the lock
        assert "pip check" in wheel
        assert runs.index(locked) < runs.index(wheel)
        copies = [rest for keyword, rest in _instructions() if keyword == "COPY"]
        assert "requirements/runtime.txt /tmp/runtime.txt" in copies

    def test_copies_only_what_exists_and_adds_nothing_from_the_network(self) -> None:
        """hadolint DL3020 (COPY, not ADD); every source of a COPY is in the tree
        and let through by .dockerignore."""
        assert not [rest for keyword, rest in _instructions() if keyword == "ADD"]
        ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
        for keyword, rest in _instructions():
            if keyword == "COPY" and not rest.startswith("--from"):
                *sources, _ = rest.split()
                for source in sources:
                    assert (ROOT / source).exists(), source
                    assert f"!{source.rstrip('/')}" in ignored, source

    def test_every_run_is_exec_form_or_shell_without_sudo_or_cache(self) -> None:
        """hadolint DL3004 (no sudo), DL3042 (no pip cache), DL4006-ish: exec form
        for ENTRYPOINT and CMD (signals reach the process)."""
        runs = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
        assert "sudo" not in runs
        assert "PIP_NO_CACHE_DIR=1" in DOCKERFILE
        for keyword in ("ENTRYPOINT", "CMD"):
            [rest] = [r for k, r in _instructions() if k == keyword]
            assert rest.startswith("["), keyword
        assert parse_command_line(yaml.safe_load(next(r for k, r in _instructions() if k == "CMD")))

    def test_the_default_command_serves_the_default_store(self) -> None:
        """The image's default store is the embedded SQLite (no CASES_DATABASE_URL),
        which serves from one process: the default command asks for no more workers
        (it did, and `docker run` of the image alone exited at once)."""
        command = yaml.safe_load(next(r for k, r in _instructions() if k == "CMD"))
        assert "CASES_DATABASE_URL" not in DOCKERFILE
        assert "--workers" not in command or command[command.index("--workers") + 1] == "1"
