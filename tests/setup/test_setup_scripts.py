"""`make setup`'s scripts on machines unlike this one: too old a Python or Node, no root, no apt, no Redis.

Each runs the real script with a PATH of its own: stand-in `python3`, `node`, `id` executables where the test
needs another version or user, links to the real tools otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
BASICS = ("bash", "env", "cat", "printf", "grep", "dirname", "sed", "head")


def toolbox(tmp_path: Path, *, real: tuple[str, ...] = (), fake: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PATH holds only `real` tools (linked), BASICS, and `fake` ones (shell scripts)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in (*BASICS, *real):
        found = shutil.which(name)
        if found and not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(found)
    for name, body in (fake or {}).items():
        script = bin_dir / name
        script.write_text("#!/bin/bash\n" + body + "\n")
        script.chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}


def run(script: str, env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shutil.which("bash") or "/bin/bash", str(SCRIPTS / script), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def fake_python(version: tuple[int, int]) -> str:
    major, minor = version
    return (f'case "$*" in *"print("*) echo "{major}.{minor}";; *"sys.exit"*) exit {0 if version >= (3, 10) else 1};;'
            ' *) exit 0;; esac')


def test_prerequisites_pass_on_this_machine(tmp_path: Path) -> None:
    result = run("check-prerequisites.sh", {**os.environ}, shutil.which("python3") or "python3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_an_old_python_is_named_with_what_to_do(tmp_path: Path) -> None:
    env = toolbox(tmp_path, real=("node", "npm"), fake={"python3": fake_python((3, 9))})
    result = run("check-prerequisites.sh", env, "python3", cwd=tmp_path)
    assert result.returncode == 1
    assert "Python 3.10 or newer is required; 'python3' is 3.9" in result.stderr
    assert "PYTHON=" in result.stderr


def test_an_old_node_and_a_missing_npm_are_named(tmp_path: Path) -> None:
    env = toolbox(tmp_path, real=("python3",), fake={"node": 'case "$*" in -p*) echo 16;; *) echo v16.20.0;; esac'})
    result = run("check-prerequisites.sh", env, "python3", cwd=tmp_path)
    assert result.returncode == 1
    assert "Node.js 18 or newer is required; node is v16.20.0" in result.stderr
    assert "npm is required" in result.stderr


def test_a_python_without_venv_is_named(tmp_path: Path) -> None:
    fake = ('case "$*" in *"print("*) echo 3.11;; *"sys.exit"*) exit 0;; *ensurepip*) exit 1;; *) exit 0;; esac')
    env = toolbox(tmp_path, real=("node", "npm"), fake={"python3": fake})
    result = run("check-prerequisites.sh", env, "python3", cwd=tmp_path)
    assert result.returncode == 1 and "python3-venv" in result.stderr


@pytest.fixture
def no_root_no_apt(tmp_path: Path) -> dict[str, str]:
    """Not root, no apt-get, no dpkg, no redis-server."""
    return toolbox(tmp_path, fake={"id": 'echo 1000'})


def test_running_needs_no_system_package(no_root_no_apt: dict[str, str]) -> None:
    result = run("ensure-system-packages.sh", no_root_no_apt, "run")
    assert result.returncode == 0, result.stderr
    assert "redis-server is not installed; 'make run' keeps the token cache in memory" in result.stderr


def test_the_tests_say_exactly_what_to_install(no_root_no_apt: dict[str, str]) -> None:
    result = run("ensure-system-packages.sh", no_root_no_apt, "test")
    assert result.returncode == 1
    assert "sudo apt-get install -y redis-server libnss3-tools" in result.stderr


def test_the_makefile_runs_the_app_without_the_test_tools() -> None:
    plan = subprocess.run(["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "check-prerequisites.sh" in plan and "ensure-system-packages.sh run" in plan
    assert "ensure-browser.sh" not in plan and "ensure-system-packages.sh test" not in plan
    fast = subprocess.run(["make", "-n", "-B", "test-fast"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60).stdout
    assert "ensure-browser.sh" not in fast and "ensure-system-packages.sh fast" in fast
    full = subprocess.run(["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "ensure-browser.sh" in full and "ensure-system-packages.sh test" in full
