"""The wheel carries the built web app: a notebook user installs with pip, without Node.js."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path

import pytest

from convscope.server.launch import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "convscope" / "server" / "static"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    assert (STATIC / "index.html").is_file(), "build the web app first (make web)"
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = dist.glob("convscope-*.whl")
    return built


def test_the_wheel_holds_the_built_web_app(wheel) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "convscope/server/static/index.html" in names
    assets = [n for n in names if n.startswith("convscope/server/static/assets/")]
    assert any(n.endswith(".js") for n in assets) and any(n.endswith(".css") for n in assets)
    assert "convscope/py.typed" in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]


def test_a_fresh_environment_serves_the_app_from_the_wheel(wheel, tmp_path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*install, "--target", target, str(wheel)], check=True)
    # The dependencies (TensorFlow, FastAPI...) come from this environment: a plain path,
    # so that this environment's editable install of convscope does not come along.
    Path(target, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run(
        [str(python), "-c", "import convscope; print(convscope.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(target), where

    port = free_port()
    env = {**os.environ, "CONVSCOPE_INSPECTION_WORKERS": "0"}
    command = [str(python), "-m", "convscope.server", "--port", str(port)]
    command += ["--store", str(tmp_path / "store"), "--workers", "0"]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, timeout=60, alive=lambda: server.poll() is None)
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            page = response.read().decode()
        assert '<div id="app">' in page
        script = page.split('src="', 1)[1].split('"', 1)[0]
        with urllib.request.urlopen(base + script, timeout=10) as response:
            assert response.status == 200 and len(response.read()) > 10_000
    finally:
        server.terminate()
        server.wait(timeout=30)
