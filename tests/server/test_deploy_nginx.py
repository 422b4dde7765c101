"""The shipped nginx config (deploy/nginx/promptvault.conf) is valid and proxies to serve."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
from tests.server.live import free_port, live_server

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "promptvault.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _localised(folder: Path, *, http_port: int, https_port: int, upstream: int) -> Path:
    """The shipped file with its machine paths and ports pointed into ``folder``."""
    cert, key = _self_signed(folder)
    for sub in ("logs", "tmp"):
        (folder / sub).mkdir()
    text = CONFIG.read_text()
    replacements = {
        "user www-data;": "user root;",
        "/run/nginx-promptvault.pid": str(folder / "nginx.pid"),
        "/var/log/nginx": str(folder / "logs"),
        "/var/lib/nginx": str(folder / "tmp"),
        "/etc/ssl/certs/promptvault.example.com.pem": str(cert),
        "/etc/ssl/private/promptvault.example.com.key": str(key),
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8600;": f"server 127.0.0.1:{upstream};",
    }
    for old, new in replacements.items():
        assert old in text, f"the shipped config no longer has {old!r}"
        text = text.replace(old, new)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)


def test_shipped_nginx_config_is_valid_and_proxies_to_promptvault(tmp_path: Path) -> None:
    home = tmp_path / "home-nginx"
    home.mkdir()
    folder = tmp_path / "nginx"
    folder.mkdir()
    with live_server(home, "--log-level", "warning") as server:
        http_port, https_port = free_port(), free_port()
        conf = _localised(folder, http_port=http_port, https_port=https_port, upstream=server.port)
        check = subprocess.run(
            [NGINX, "-t", "-c", str(conf), "-p", str(folder)],
            check=False,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(folder), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_port(https_port, proc)
            plain = httpx.get(f"http://127.0.0.1:{http_port}/healthz", follow_redirects=False)
            assert plain.status_code == 301
            assert plain.headers["location"].startswith("https://")
            with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False) as c:
                key = {"Authorization": f"Bearer {server.admin_key}"}
                pushed = c.post(
                    "/v1/prompts/via/proxy/versions", json={"template": "hi"}, headers=key
                )
                assert pushed.status_code == 201, pushed.text
                resolved = c.get("/v1/prompts/via/proxy/resolve", headers=key)
                assert resolved.status_code == 200 and resolved.json()["template"] == "hi"
                assert resolved.headers["strict-transport-security"]
                too_big = c.post("/v1/prompts/x/versions", content=b"x" * (2 << 20), headers=key)
                assert too_big.status_code == 413  # refused by nginx before promptvault
        finally:
            proc.terminate()
            proc.wait(timeout=15)
