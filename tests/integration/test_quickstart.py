"""The README's "Your own data: quick start", run as written on a generated data set.

Every ``toml`` block that starts with ``# file: NAME`` is written to NAME and every line of
every ``sh`` block runs in ``bash`` in one working folder, in order (``CMD &`` in the
background, ``kill %N`` stops the N-th of them), so the README cannot drift from the tool. The
only changes: free ports instead of the README's fixed ones, ``photo.png`` a generated colour
picture, and the qemu and pynq boards left out where this machine cannot emulate them.
Checked on the way: every class is served under its own name, the status page shows every
board up, and after the update (a flash under the running gateway, no restart) the flashed board
votes with the new run's model while the others stay up on theirs. Then, on the same fleet,
what a newcomer does next (``_beyond_the_readme``): the class order the run keeps, ``pack``'s
self-test, every board flashed by name, the test split through the gateway from another folder,
and ``kill -9`` of one board while the others serve on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.slow]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_checks import (  # noqa: E402
    free_port,
    gateway_split,
    not_serving,
    training_index,
    wait_ready,
)
from shapes_helpers import SHAPES, draw, write_shapes  # noqa: E402
from tiny_helpers import ROOT  # noqa: E402

SECTION = "## Your own data: quick start"
PER_CLASS = 100
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def quickstart_blocks(readme: Path = ROOT / "README.md") -> list[tuple[str, str]]:
    """(language, text) of every fenced block of the section, in order."""
    text = readme.read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(body)]


def test_readme_names_files_and_commands() -> None:
    blocks = quickstart_blocks()
    files = [t.splitlines()[0] for lang, t in blocks if lang == "toml"]
    assert files == ["# file: my_family.toml", "# file: deploy.toml"]
    commands = [c for lang, t in blocks if lang == "sh" for c in t.splitlines() if c.strip()]
    for step in (
        "family show",
        "train",
        "convert",
        "evaluate",
        "emulate",
        "gateway",
        "classify",
        "flash",
    ):
        assert any(c.startswith(f"vp-edge {step}") for c in commands), step
    gateways = [c for c in commands if c.startswith("vp-edge gateway")]
    assert len(gateways) == 1 and not any(c.startswith("kill") for c in commands), (
        "the update step keeps the gateway running"
    )


class Shell:
    """Runs the README's lines in ``work`` with the project's ``vp-edge`` on PATH."""

    def __init__(self, work: Path, ports: dict[str, str]) -> None:
        self.work, self.ports, self.jobs = work, ports, []
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        }

    def fix(self, line: str) -> str:
        for old, new in self.ports.items():
            line = line.replace(old, new)
        return line

    def run(self, line: str) -> subprocess.CompletedProcess | None:
        line = self.fix(line.split("    # ")[0])  # a trailing comment is for people
        if m := re.fullmatch(r"kill %(\d+)", line.strip()):
            self.stop_job(int(m.group(1)))
            return None
        if line.rstrip().endswith("&"):
            self.jobs.append(
                subprocess.Popen(
                    ["bash", "-c", "exec " + line.rstrip()[:-1]],
                    cwd=self.work,
                    env=self.env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            return None
        r = subprocess.run(
            ["bash", "-c", line],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
        return r

    def stop_job(self, n: int) -> tuple[str, str]:
        """Ctrl-C to the N-th background job (as ``kill %N``); its output."""
        job = self.jobs[n - 1]
        job.send_signal(signal.SIGINT)
        return job.communicate(timeout=30)

    def stop(self) -> None:
        for job in self.jobs:
            if job.poll() is None:
                job.send_signal(signal.SIGINT)
                try:
                    job.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    job.kill()
                    job.communicate()


def deploy_text(text: str) -> str:
    """The README's deploy.toml without the boards this machine cannot emulate."""
    from boards.emulators import pynq_missing, qemu_missing

    parts = text.split("[[boards]]")
    keep = [parts[0]]
    for b in parts[1:]:
        if ('kind = "qemu"' in b and qemu_missing()) or ('kind = "pynq"' in b and pynq_missing()):
            continue
        keep.append(b)
    return "[[boards]]".join(keep)


def classify_until_up(sh: Shell, line: str) -> subprocess.CompletedProcess:
    """A classify line, retried while the gateway binds its port and finds its boards."""
    r = None
    for _ in range(60):
        r = sh.run(line)
        if r.returncode == 0:
            return r
        time.sleep(0.5)
    raise AssertionError(f"{line} -> {r.returncode}: {r.stderr[-2000:]}")


def status(port: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=5) as r:
        return json.loads(r.read())


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    work = tmp_path / "work"
    write_shapes(work / "data", PER_CLASS)
    rng = np.random.default_rng(7)
    grey = draw("circle", rng)
    Image.fromarray(np.repeat(np.kron(grey, np.ones((3, 3), np.uint8))[..., None], 3, -1)).save(
        work / "photo.png"
    )  # 84x84 RGB: the gateway resizes it and drops the colour
    metrics = str(free_port())
    ports = {
        "5601": str(free_port()),
        "5602": str(free_port()),
        "5603": str(free_port()),
        "5700": str(free_port()),
        "9108": metrics,
    }
    sh = Shell(work, ports)
    classified, train = 0, None
    try:
        for lang, text in quickstart_blocks():
            if lang == "toml":
                name = text.splitlines()[0].removeprefix("# file: ").strip()
                body = deploy_text(text) if name == "deploy.toml" else text
                (work / name).write_text(sh.fix(body))
                continue
            if lang != "sh":
                continue
            for line in (c for c in text.splitlines() if c.strip()):
                if line.startswith("vp-edge classify"):
                    r = classify_until_up(sh, line)
                    classified += 1
                    assert (
                        "input: converted from colour (RGB) to grey; resized 84x84 -> 28x28"
                        in r.stdout + r.stderr
                    ), r.stdout + r.stderr
                    _check_after_classify(sh, work, metrics, classified)
                    continue
                r = sh.run(line)
                if line.startswith("vp-edge emulate"):  # "wait until it prints emulating"
                    dep = (work / "deploy.toml").read_text()
                    wait_ready(work, re.findall(r'^name = "(.+)"', dep, re.M), sh.jobs[-1], 300)
                if r is not None:
                    assert r.returncode == 0, f"{line} -> {r.returncode}:\n{r.stderr[-3000:]}"
                if line.startswith("vp-edge family show"):
                    assert "fits" in r.stdout and "s24" in r.stdout, r.stdout
                train = r if line.startswith("vp-edge train") else train
        assert classified == 2
        start = time.monotonic()
        _beyond_the_readme(sh, work, tmp_path, train)
        print(f"beyond the README: {time.monotonic() - start:.1f} s")
    finally:
        sh.stop()


def _check_after_classify(sh: Shell, work: Path, metrics: str, n: int) -> None:
    """First time: every board up, and new pictures of every class answered by their own
    name. After the update: pi-1 runs the new run's model, the others stay up on theirs."""
    end = time.monotonic() + 15  # boards that became ready after the gateway started join
    while True:
        rows = {b["name"]: b for b in status(metrics)["boards"]}
        settled = all(b["state"] != "down" for b in rows.values())
        if settled or time.monotonic() > end:
            break
        time.sleep(0.5)
    if n == 1:
        assert all(b["state"] == "up" for b in rows.values()), {
            n: (b["state"], b["reason"]) for n, b in rows.items()
        }
        _every_class_by_name(sh, work)
        return
    new = json.loads((work / "runs/mine-2/models/s16.json").read_text())["tflite_sha256"]
    while (rows["pi-1"]["runs"] or {}).get("model_sha256") != new and time.monotonic() < end:
        time.sleep(0.5)  # the board's HELLO after the flash can reach the gateway after classify
        rows = {b["name"]: b for b in status(metrics)["boards"]}
    assert rows["pi-1"]["state"] == "up", rows["pi-1"]
    assert rows["pi-1"]["runs"]["model_sha256"] == new
    for name, b in rows.items():
        assert b["state"] == "up", b  # the others serve on with the old run's models
        if name != "pi-1":
            assert b["runs"]["model_sha256"] != new, b
    for name in ("pi-2", "mcu-1"):
        old = json.loads((work / f"runs/mine/models/{rows[name]['variant']}.json").read_text())
        assert rows[name]["runs"]["model_sha256"] == old["tflite_sha256"], rows[name]


def _every_class_by_name(sh: Shell, work: Path) -> None:
    """New pictures of each class through ``vp-edge classify``: every answer names its class
    index by the family's order, and most are right (chance is 1 in 4)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(99)
    right = 0
    for kind in SHAPES:
        for i in range(3):
            path = work / f"new-{kind}-{i}.png"
            Image.fromarray(draw(kind, rng)).save(path)
            r = sh.run(f"vp-edge classify --gateway udp://127.0.0.1:5700 {path.name} --json -")
            assert r.returncode == 0, r.stderr[-2000:]
            reply = json.loads(r.stdout)
            assert reply["class_name"] == SHAPES[reply["winner"]], reply
            right += reply["class_name"] == kind
    assert right >= 5, f"{right} of 12 new pictures right"  # chance: 3


def _beyond_the_readme(
    sh: Shell, work: Path, tmp: Path, train: subprocess.CompletedProcess | None
) -> None:
    """The newcomer's next steps on the README's fleet (the last run, the emulated boards): the
    family's class order (not the folders' sorted one) kept by train, convert and data loading;
    ``pack`` with its self-test (the Cortex-M layout the QEMU board runs); every board flashed
    by name with its own variant; the test split through the gateway from another folder;
    ``kill -9`` of one board."""
    assert train is not None and "classes circle, square, triangle, stripes" in train.stderr
    run = work / "runs" / "mine-2"
    data = json.loads((run / "data.json").read_text())
    assert data["class_names"] == list(SHAPES) and Path(data["source"]).is_absolute()
    assert training_index(run, work / "data") == {kind: i for i, kind in enumerate(SHAPES)}
    for v in ("s16", "s24"):
        card = json.loads((run / "models" / f"{v}.json").read_text())
        assert card["class_names"] == list(SHAPES)
        r = sh.run(f"vp-edge pack runs/mine-2/models/{v}.tflite --target cortex-m4 --json -")
        assert r.returncode == 0 and json.loads(r.stdout)["golden"], r.stderr[-2000:]
    sh.stop_job(2)  # the README's gateway: what follows runs gateways of its own
    dep_file = work / "deploy.toml"
    dep_file.write_text(dep_file.read_text().replace('run = "runs/mine"', 'run = "runs/mine-2"'))
    for b in tomllib.loads(dep_file.read_text())["boards"]:
        suffix = "vpw" if b["kind"] in ("qemu", "pynq") else "tflite"
        art = f"runs/mine-2/models/{b['variant']}.{suffix}"
        r = sh.run(
            f"vp-edge flash {art} --deployment deploy.toml --board {b['name']} --json - --timeout 2"
        )
        assert r.returncode == 0, r.stderr[-2000:]
        f = json.loads(r.stdout)
        assert f["verified"] and f["board"] == b["name"] and not f["warnings"], f
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    rep = gateway_split(dep_file, elsewhere)  # the run's data path is absolute
    assert rep["errors"] == 0 and not not_serving(rep), not_serving(rep)
    assert rep["accuracy"] >= 0.5, rep["accuracy"]  # chance is 0.25
    pid = json.loads((work / ".deploy.state" / "ready" / "pi-2.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(1.5)
    emu = sh.jobs[0]
    assert emu.poll() is None, "one dead board must not end the emulation"
    rep = gateway_split(dep_file, elsewhere, "--limit", "12")
    assert rep["requests"] == 12 and rep["errors"] == 0 and rep["degraded"] == 12, rep
    assert rep["boards"]["pi-2"]["reason"] is not None
    _, err = sh.stop_job(1)
    assert "board pi-2 exited (killed by SIGKILL)" in err, err[-2000:]
    assert emu.returncode == 130, err[-2000:]
