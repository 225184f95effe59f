"""The Dockerfile's build, replayed without a container engine (none runs here).

Its steps run in order on a new folder: ``python -m venv`` of this machine's Python stands in
for the base image's (the same minor version), ``COPY`` copies from a clean export of the
repository, ``RUN``'s ``pip`` commands run as written with the image's ``ENV``. Then the image
holds exactly the pinned packages and the project, they agree with each other (``pip check``),
and its ``CMD`` serves with the image's ``ENV``. What it cannot show: the base image's own
system packages, and ``useradd``/``chown`` and ``USER`` (they would change this machine, and
this machine's Python lives where another user cannot reach it); tests/test_compose.py checks
the image's user is not root.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.smtp_sink import free_port
from tests.support.stack import eventually

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Dockerfile:
    """The instructions this replay understands, in order."""

    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, str]] = field(default_factory=list)  # (COPY|RUN|WORKDIR, args)
    user: str = "root"
    cmd: list[str] = field(default_factory=list)
    workdir: str = "/"


def parse_dockerfile(text: str) -> Dockerfile:
    parsed = Dockerfile()
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            parsed.base = args
        elif instruction == "ENV":
            parsed.env.update(re.findall(r"(\w+)=(\S+)", args))
        elif instruction in ("COPY", "RUN", "WORKDIR"):
            parsed.steps.append((instruction, args))
        elif instruction == "USER":
            parsed.user = args
        elif instruction == "CMD":
            parsed.cmd = __import__("json").loads(args)
        elif instruction != "EXPOSE":
            raise AssertionError(f"the replay does not know {instruction}: teach it")
    return parsed


def test_the_image_builds_from_the_lock_and_its_command_serves(tmp_path: Path) -> None:
    image_root = tmp_path
    image = parse_dockerfile((ROOT / "Dockerfile").read_text())
    python_tag = re.match(r"python:(\d+\.\d+)-", image.base)
    assert python_tag, image.base
    if python_tag.group(1) != f"{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"the image's Python is {python_tag.group(1)}, this machine's is another")
    python = image_root / "python"  # the base image's interpreter and site-packages
    subprocess.run([sys.executable, "-m", "venv", str(python)], check=True, timeout=120)
    env = {
        "PATH": f"{python / 'bin'}:{os.environ['PATH']}",
        "HOME": str(image_root),
        **image.env,
    }
    # The build uses the network for packages, as `docker build` does; the cache is this
    # machine's (the image's PIP_NO_CACHE_DIR only keeps the image small).
    env.pop("PIP_NO_CACHE_DIR", None)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "PIP_INDEX_URL"):
        if proxy in os.environ:
            env[proxy] = os.environ[proxy]
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    rootfs = image_root / "fs"
    workdir = rootfs
    skipped: list[str] = []
    for instruction, args in image.steps:
        if instruction == "WORKDIR":
            workdir = rootfs / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            *sources, target = shlex.split(args)
            destination = workdir / target if not target.startswith("/") else rootfs / target
            for source in sources:
                copy_from_context(ROOT / source, destination, many=len(sources) > 1)
        else:  # RUN: each `&&` part; pip's as written, the rest would change this machine
            for part in args.split("&&"):
                words = shlex.split(part)
                if words[0] != "pip":
                    skipped.append(words[0])
                    continue
                done = subprocess.run(
                    words, cwd=workdir, env=env, capture_output=True, text=True, timeout=900
                )
                assert done.returncode == 0, f"{part}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    assert set(skipped) <= {"useradd", "mkdir", "chown"}, skipped

    pip = python / "bin" / "pip"
    check = subprocess.run([pip, "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout
    frozen = subprocess.run(
        [pip, "freeze", "--exclude-editable"], env=env, capture_output=True, text=True, check=True
    ).stdout
    # The project shows as `approvals @ file:///...` (installed from the folder).
    assert re.search(r"^approvals @ file://", frozen, re.MULTILINE), frozen
    installed = {canonical(line) for line in frozen.splitlines() if "==" in line}
    locked = {
        canonical(line)
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert installed == locked  # exactly the pins, nothing unpinned came along

    # CMD, with the image's ENV, on loopback instead of 0.0.0.0:8000.
    home = rootfs / image.env["APPROVALS_INSTANCE_PATH"].lstrip("/")
    (home / "metrics").mkdir(parents=True, exist_ok=True)
    run_env = {k: v.replace("/var/lib/approvals", str(home)) for k, v in env.items()}
    run_env["HOME"] = str(home)
    port = free_port()
    command = [str(port) if part == "8000" else part for part in image.cmd]
    command = ["127.0.0.1" if part == "0.0.0.0" else part for part in command]
    command[0] = str(python / "bin" / command[0])
    # As compose does before the web starts: its one-shot migration, from the same image.
    migrate = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["migrate"]
    upgrade = [str(python / "bin" / migrate["command"][0]), *migrate["command"][1:]]
    done = subprocess.run(upgrade, cwd=workdir, env=run_env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    log_path = image_root / "web.log"
    with open(log_path, "wb") as log:
        web = subprocess.Popen(
            command,
            cwd=workdir,
            env=run_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: _answers(f"{base}/healthz"), timeout=60)
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        page = httpx.get(f"{base}/dashboard/signin", timeout=10)
        assert page.status_code == 200 and "<form" in page.text  # templates in the image
    finally:
        os.killpg(web.pid, 15)
        web.wait(timeout=30)
        print(log_path.read_text(errors="replace")[-3000:])


def copy_from_context(source: Path, destination: Path, *, many: bool) -> None:
    """``COPY source destination``: a folder's content into the folder, a file into it."""
    assert source.exists(), f"COPY {source.name}: not in the build context"
    if source.is_dir():
        shutil.copytree(
            source,
            destination,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    else:
        # Into a folder (one that exists, or for several sources), else to that name.
        into = many or destination.is_dir()
        target = destination / source.name if into else destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def canonical(line: str) -> str:
    name, _, version = line.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
