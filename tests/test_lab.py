"""`make lab` opens JupyterLab on notebooks/: start the same server headless and list them."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_serves_the_notebooks(tmp_path):
    port, token = _free_port(), "course-test"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={ROOT / 'notebooks'}",
    ]
    if os.geteuid() == 0:  # as `make lab` does: CI and containers run as root
        cmd.append("--allow-root")
    env = {
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        listing, lab_page = None, None
        deadline = time.time() + 60
        while time.time() < deadline and listing is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=5
                ) as r:
                    listing = json.load(r)
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/lab?token={token}", timeout=5
                ) as r:
                    lab_page = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer within 60 s"
        names = {item["name"] for item in listing["content"]}
        expected = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
        assert expected and expected <= names
        assert "JupyterLab" in lab_page
    finally:
        proc.terminate()
        proc.wait(timeout=20)
