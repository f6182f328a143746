"""Mosquitto as a component: started on a free loopback port, authentication on, stopped clean.

The configuration is the file the project ships (``vp_edge/gateway/mosquitto.conf``); the password
file is written at start with ``mosquitto_passwd`` and a random password, handed to clients
through an ``auth=`` file (``user:password``) in the link URL. Used by the tests and by
``vp-edge demo --fleet``; ``restart`` keeps the port, so clients reconnect to the same URL.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from vp_edge.errors import VpEdgeError

CONF = Path(__file__).with_name("mosquitto.conf")
SBIN = ("/usr/sbin", "/usr/bin", "/usr/local/sbin")


class BrokerError(VpEdgeError):
    """The broker cannot be found or started (exit code 3)."""

    exit_code = 3


def find_binary(name: str) -> str | None:
    """``mosquitto`` / ``mosquitto_passwd``: on PATH or in the usual sbin folders."""
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN:
        if (Path(d) / name).is_file():
            return str(Path(d) / name)
    return None


def missing_reason() -> str | None:
    """Why a broker cannot run here (None when it can)."""
    for name in ("mosquitto", "mosquitto_passwd"):
        if find_binary(name) is None:
            return (
                f"{name} not found: install the Debian package 'mosquitto' "
                "(make setup does, through scripts/setup.d/50-fleet.sh)"
            )
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Broker:
    """One Mosquitto process in ``workdir``; ``url(deployment)`` is what clients connect to."""

    def __init__(
        self, workdir: Path, port: int = 0, host: str = "127.0.0.1", user: str = "vp-edge"
    ) -> None:
        reason = missing_reason()
        if reason:
            raise BrokerError(reason)
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, port or free_port(host)
        self.user, self.password = user, secrets.token_hex(16)
        self.auth_file = self.dir / "mqtt.auth"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def url(self, deployment: str, scheme: str = "mqtt") -> str:
        return f"{scheme}://{self.host}:{self.port}/{deployment}?auth={self.auth_file}"

    def _write_config(self) -> Path:
        pw = self.dir / "passwd"
        pw.unlink(missing_ok=True)
        subprocess.run(
            [find_binary("mosquitto_passwd"), "-b", "-c", str(pw), self.user, self.password],
            check=True,
            capture_output=True,
            timeout=30,
        )
        pw.chmod(0o600)
        self.auth_file.write_text(f"{self.user}:{self.password}\n")
        self.auth_file.chmod(0o600)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            CONF.read_text().format(
                port=self.port,
                host=self.host,
                password_file=pw,
                log_file=self.dir / "broker.log",
                user_line="user root" if os.geteuid() == 0 else "",
            )
        )
        return conf

    def start(self, timeout: float = 10.0) -> Broker:
        conf = self._write_config() if self.starts == 0 else self.dir / "mosquitto.conf"
        self.proc = subprocess.Popen(
            [find_binary("mosquitto"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.starts += 1
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip()
                raise BrokerError(
                    f"mosquitto exited at start: {err[-300:] or 'no message'}; "
                    f"see {self.dir / 'broker.log'}"
                )
            try:
                socket.create_connection((self.host, self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} in {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay away ``down_s``, start again on the same port (clients reconnect)."""
        self.stop()
        time.sleep(down_s)
        self.start()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
