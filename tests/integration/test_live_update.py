"""A running gateway keeps its boards while others talk to them (docs/protocol.md §4): a second
gateway command that fails contacts no board, one that runs (or is interrupted) locks nobody
out, and a board that hears a forged huge counter keeps serving the running gateway and lets a
restarted one back in by its challenge. Boards are in-process (UDP linux, pty MCU)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boards"))

from board_helpers import (
    KEY,
    FakeBoards,
    FakeRunner,
    four_boards,
    make_fake_run,
    write_deployment,
)

import firmware_bridge as fb
from boards.server import result_pairs
from vp_edge.cards import register_card
from vp_edge.cli import main
from vp_edge.gateway.core import Gateway, vote_boards
from vp_edge.preprocess import quantize

ALL = ("m3", "m4", "pi1", "pi2")


def _udp_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class RunningGateway:
    """A gateway serving from its own thread and event loop, as ``gateway --listen`` does."""

    def __init__(self, dep) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.gw = Gateway(dep)
        self.call(self.gw.start(hello_timeout=3.0))

    def call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def answers(self, x: np.ndarray) -> list[tuple[int | None, tuple[str, ...]]]:
        out = []
        for img in x:
            a = self.call(self.gw.classify(img))
            out.append((a.winner, a.answered))
        return out

    def all_up(self, within_s: float = 10.0) -> bool:
        """Whether every board is up again within ``within_s`` (a board whose line was busy with
        another sender may miss heartbeats and be PROBEd back: that is not a lock-out)."""
        end = time.monotonic() + within_s
        while time.monotonic() < end:
            if all(b.up for b in self.gw.boards.values()):
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        if not self.loop.is_running():  # closed already
            return
        self.call(self.gw.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def fleet(tmp_path: Path):
    dep = write_deployment(
        tmp_path, make_fake_run(tmp_path), four_boards(_udp_ports(2)), deadline_ms=2000
    )
    boards = FakeBoards(dep)
    for name in ALL:
        boards.start(name)
    running = RunningGateway(dep)
    yield dep, boards, running
    running.close()
    boards.stop()


def _images(tmp_path: Path, n: int) -> tuple[np.ndarray, Path]:
    from PIL import Image

    x = np.random.default_rng(24).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for i, img in enumerate(x):
        Image.fromarray(img[:, :, 0]).save(folder / f"{i}.png")
    return x, folder


def _heard(boards: FakeBoards) -> int:
    """Frames the boards received from gateway-side senders, dropped ones included."""
    return sum(sum(s.auth.stats.values()) for s in boards.servers.values())


def _exit_code(argv: list[str]) -> int:
    """``vp-edge ARGV``'s exit code, whether main returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


def test_failing_second_gateway_contacts_no_board_and_changes_no_answer(fleet, tmp_path):
    dep, boards, running = fleet
    x, folder = _images(tmp_path, 4)
    before = running.answers(x)
    assert all(answered == ALL for _, answered in before)
    busy_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy_udp.bind(("127.0.0.1", 0))
    busy_tcp = socket.socket()
    busy_tcp.bind(("127.0.0.1", 0))
    busy_tcp.listen()
    free = _udp_ports(1)[0]
    base = ["gateway", "--deployment", str(dep.path)]
    cases = {
        "metrics bogus": ["--listen", f"udp://127.0.0.1:{free}", "--metrics", "bogus"],
        "metrics busy": [
            "--listen",
            f"udp://127.0.0.1:{free}",
            "--metrics",
            f"127.0.0.1:{busy_tcp.getsockname()[1]}",
        ],
        "metrics 99999": ["--listen", f"udp://127.0.0.1:{free}", "--metrics", "127.0.0.1:99999"],
        "listen busy": ["--listen", f"udp://127.0.0.1:{busy_udp.getsockname()[1]}"],
        "answers /proc": ["--images", str(folder), "--answers", "/proc/a.jsonl"],
    }
    try:
        for case, argv in cases.items():
            heard = _heard(boards)
            assert _exit_code(base + argv) in (2, 3), case
            assert _heard(boards) == heard, f"{case}: a board was contacted"
    finally:
        busy_udp.close()
        busy_tcp.close()
    assert running.answers(x) == before
    print(
        f"\n[second gateway] {len(cases)} failing commands, exit codes 2/3, 0 frames to any "
        f"board, {len(x)} of {len(x)} answers of the running gateway unchanged"
    )


def test_second_gateway_that_runs_locks_nobody_out(fleet, tmp_path):
    dep, boards, running = fleet
    x, folder = _images(tmp_path, 4)
    before = running.answers(x)
    out = tmp_path / "second.jsonl"
    assert (
        main(
            [
                "gateway",
                "--deployment",
                str(dep.path),
                "--images",
                str(folder),
                "--answers",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    second = [json.loads(line) for line in out.read_text().splitlines()]
    # the serial boards through the running gateway's relay: every board heard, none degraded
    assert [(a["winner"], tuple(a["answered"])) for a in second] == before
    assert running.gw.relay is not None and running.gw.relay.counts["relayed_in"] >= 8
    assert running.all_up()  # no board refuses the older, running gateway
    assert running.answers(x) == before  # the older, running gateway is still heard by all


def test_second_gateway_takes_the_line_back_when_the_first_is_gone(fleet, tmp_path):
    """A gateway that reached the serial boards through another's relay opens their lines
    itself once that gateway has closed (its relay socket is gone)."""
    dep, boards, running = fleet
    x, _ = _images(tmp_path, 3)
    before = running.answers(x)
    second = RunningGateway(dep)
    try:
        assert {b.spec.name: bool(b.via) for b in second.gw.boards.values()} == {
            "m3": True,
            "m4": True,
            "pi1": False,
            "pi2": False,
        }
        assert second.answers(x) == before
        running.close()
        end = time.monotonic() + 10
        while any(b.via or not b.up for b in second.gw.boards.values()):
            assert time.monotonic() < end, "the serial boards did not come back on their lines"
            time.sleep(0.1)
        assert second.answers(x) == before
    finally:
        second.close()


def test_forged_huge_counter_loses_no_board(fleet):
    dep, boards, running = fleet
    x = np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    before = running.answers(x)
    for b in dep.boards:  # one PROBE per board, signed with its key, counter 0xFFFFFFFF00000001
        tx = fb.Sender(
            fb.derive_board_key(KEY, b.id), fb.Counter(0xFFFFFFFF), board_id=b.id, from_gateway=True
        )
        frame = tx.frame(fb.Probe(fb.MsgType.HELLO), 1)
        boards.servers[b.name].handle(boards.servers[b.name].auth.check(frame))
    assert running.answers(x) == before  # the running gateway was not dropped
    running.close()
    restarted = RunningGateway(dep)  # older epoch than the forged one: challenged, let in
    try:
        assert restarted.answers(x) == before
        stale = sum(s.auth.stats["stale"] for s in boards.servers.values())
        assert stale >= len(ALL)
        lost = [b for b in ALL if b not in restarted.answers(x[:1])[0][1]]
        print(
            f"\n[forged counter] 0xFFFFFFFF00000001 on {len(ALL)} boards: running gateway "
            f"lost {len(ALL) - len(before[0][1])}, restarted gateway lost {len(lost)} "
            f"({stale} stale PROBEs challenged)"
        )
    finally:
        running.gw = restarted.gw
        running.loop, running.thread = restarted.loop, restarted.thread


def _offline(gw: Gateway, img: np.ndarray, voters: dict[str, tuple[str, bytes]]) -> int | None:
    """The offline vote of ``voters`` ({board: (vote identity, fake model bytes)}), each
    board's input quantised and its scores read under its own model's card."""
    res = {}
    for name, (model, blob) in voters.items():
        c = gw.vote_cards[model]
        q = FakeRunner(blob).run(quantize(img, c["input_scale"], c["input_zero_point"]))
        res[name] = (gw.dep.board(name).id, model, result_pairs(q, gw.dep.k))
    return vote_boards(res, gw.vote_cards, gw.num_classes, gw.dep.rule, gw.weights)[0].winner


def test_board_that_switches_model_is_relearnt_from_its_hello(fleet):
    dep, boards, running = fleet
    gw = running.gw
    blob = b"t16 of the next run"
    sha = hashlib.sha256(blob).hexdigest()
    card = {
        **gw.cards["t16"],
        "tflite_sha256": sha,
        "input_scale": 2 / 255,
        "input_zero_point": -100,
        "vote_weight": 0.9,
    }
    register_card(dep.state_dir, sha, card)  # what flash / rollout do before the transfer
    server = boards.servers["pi1"]
    server.swap_model(FakeRunner(blob), {"model_sha256": bytes.fromhex(sha)})  # HELLO goes out
    x = np.random.default_rng(5).integers(0, 256, (6, 28, 28, 1), dtype=np.uint8)
    time.sleep(0.3)
    got = [running.call(gw.classify(img)) for img in x]
    new = f"t16@{sha[:12]}"
    assert gw.boards["pi1"].model == new and gw.boards["pi1"].up
    models = {
        "pi1": (new, blob),
        "pi2": ("t24", b"t24"),
        "m3": ("t16", b"t16"),
        "m4": ("t24", b"t24"),
    }
    for img, a in zip(x, got, strict=True):
        assert a.answered == ALL and new in gw.vote_cards
        assert a.winner == _offline(gw, img, models)  # old and new models mixed, exact


def test_model_without_a_card_is_refused_not_voted(fleet):
    dep, boards, running = fleet
    boards.servers["pi1"].swap_model(
        FakeRunner(b"unknown"), {"model_sha256": hashlib.sha256(b"unknown").digest()}
    )
    time.sleep(0.3)
    a = running.call(running.gw.classify(np.zeros((28, 28, 1), np.uint8)))
    assert "pi1" not in a.answered and "no card" in running.gw.boards["pi1"].refused


@pytest.mark.slow
def test_reflash_under_a_running_gateway_votes_again_within_5_s(tiny_run: Path, tmp_path: Path):
    from boards.daemon import BoardOptions, build_server
    from boards.server import serve_in_thread

    ports = _udp_ports(2)
    specs = [
        {
            "id": i + 1,
            "name": f"pi{i + 1}",
            "kind": "linux",
            "variant": v,
            "link": f"udp://127.0.0.1:{p}",
        }
        for i, (v, p) in enumerate(zip(("t16", "t24"), ports, strict=True))
    ]
    dep = write_deployment(tmp_path, tiny_run, specs, deadline_ms=2000)
    servers = {}
    for s in specs:
        opts = BoardOptions(
            tiny_run / "models" / f"{s['variant']}.tflite",
            s["link"],
            s["id"],
            fb.derive_board_key(KEY, s["id"]),
            k=2,
            heartbeat_s=0.2,
            model_dir=tmp_path / f"slots{s['id']}",
        )
        server = build_server(opts)
        servers[s["name"]] = (server, serve_in_thread(server))
    running = RunningGateway(dep)
    x = np.random.default_rng(3).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    try:
        assert all(a == ("pi1", "pi2") for _, a in running.answers(x))
        pi1 = servers["pi1"][0]
        bad = tmp_path / "t16.tflite"  # one flipped byte, its card beside it: refused, exit 2
        blob = bytearray((tiny_run / "models" / "t16.tflite").read_bytes())
        blob[len(blob) // 2] ^= 1
        bad.write_bytes(bytes(blob))
        (tmp_path / "t16.json").write_bytes((tiny_run / "models" / "t16.json").read_bytes())
        heard = sum(pi1.auth.stats.values())
        assert main(["flash", str(bad), "--deployment", str(dep.path), "--board", "pi1"]) == 2
        bad.write_bytes(bytes(blob[:1000]))  # truncated
        assert main(["flash", str(bad), "--deployment", str(dep.path), "--board", "pi1"]) == 2
        assert sum(pi1.auth.stats.values()) == heard  # refused before any frame
        assert (
            main(
                [
                    "flash",
                    str(tiny_run / "models" / "t24.tflite"),
                    "--deployment",
                    str(dep.path),
                    "--board",
                    "pi1",
                ]
            )
            == 0
        )
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5.0:
            _, answered = running.answers(x[:1])[0]
            if "pi1" in answered and running.gw.boards["pi1"].model == "t24":
                break
        took = time.monotonic() - t0
        assert took < 5.0, "pi1 did not vote again within 5 s of flash returning"
        print(f"\n[re-flash] pi1 voted again {took:.2f} s after flash returned")
    finally:
        running.close()
        for server, thread in servers.values():
            server.close()
            thread.join(2)


def _run_b(tiny_run: Path, root: Path, swap: bool = True) -> Path:
    """Another 'trained run': tiny_run's models with t16 and t24 swapped (cards follow)."""
    run = root / "run-b"
    shutil.copytree(
        tiny_run, run, ignore=shutil.ignore_patterns("outputs", "checkpoints", "weights")
    )
    if swap:
        a = tiny_run / "models"
        for v, w in (("t16", "t24"), ("t24", "t16")):
            for suffix in (".tflite", ".json"):
                shutil.copyfile(a / f"{w}{suffix}", run / "models" / f"{v}{suffix}")
    return run


@pytest.mark.slow
def test_rollout_under_load_loses_nothing_and_a_bad_artefact_reverts(
    tiny_run: Path, tmp_path: Path, capsys
):
    import json

    from boards.daemon import BoardOptions, build_server
    from boards.server import serve_in_thread
    from vp_edge.rollout import RolloutOptions, rollout

    names = ("m4", "pi1", "pi2", "pi3")
    specs = [
        {
            "id": i + 1,
            "name": n,
            "kind": "linux",
            "variant": ("t16", "t24")[i % 2],
            "link": f"udp://127.0.0.1:{p}",
        }
        for i, (n, p) in enumerate(zip(names[1:], _udp_ports(3), strict=True))
    ]
    specs.append(
        {
            "id": 4,
            "name": "m4",
            "kind": "mcu",
            "variant": "t24",
            "link": "pty://m4",
            "profile": "esp32-s3",
        }
    )  # a serial board: flashed through the relay
    dep = write_deployment(tmp_path, tiny_run, specs, deadline_ms=3000)
    servers = []
    for s in specs:
        server = build_server(
            BoardOptions(
                tiny_run / "models" / f"{s['variant']}.tflite",
                s["link"],
                s["id"],
                fb.derive_board_key(KEY, s["id"]),
                kind=s["kind"],
                k=2,
                heartbeat_s=0.2,
                profile=s.get("profile"),
                pty_dir=dep.pty_dir,
                model_dir=tmp_path / f"slots{s['id']}",
            )
        )
        servers.append((server, serve_in_thread(server)))
    running = RunningGateway(dep)
    stop, answers = threading.Event(), []

    def load() -> None:
        rng = np.random.default_rng(9)
        while not stop.is_set():
            img = rng.integers(0, 256, (28, 28, 1), dtype=np.uint8)
            answers.append((img, running.call(running.gw.classify(img))))
            time.sleep(0.02)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        b = _run_b(tiny_run, tmp_path)
        assert (
            main(
                [
                    "rollout",
                    "--deployment",
                    str(dep.path),
                    "--to",
                    str(b),
                    "--dry-run",
                    "--json",
                    "-",
                ]
            )
            == 0
        )
        assert len(json.loads(capsys.readouterr().out)["steps"]) == 4
        report = rollout(dep, b, RolloutOptions(canary=4, state_file=tmp_path / "r.json"))
        assert not report.halted
        assert {o["status"] for o in report.outcomes.values()} == {"done"}
        time.sleep(0.5)
        models = {n: running.gw.boards[n].model for n in names}
        assert models == {"pi1": "t24", "pi2": "t16", "pi3": "t24", "m4": "t16"}
        n_first = len(answers)
        bad = _run_b(tiny_run, tmp_path / "bad", swap=False)  # back to A, one card lying
        card = json.loads((bad / "models" / "t24.json").read_text())
        card["output_scale"] *= 2
        (bad / "models" / "t24.json").write_text(json.dumps(card))
        second = rollout(dep, bad, RolloutOptions(canary=4, state_file=tmp_path / "r2.json"))
        assert second.halted
        statuses = {n: o["status"] for n, o in second.outcomes.items()}
        assert statuses == {"pi1": "done", "pi2": "reverted"}, second.outcomes
        time.sleep(0.5)
    finally:
        stop.set()
        loader.join(10)
        running.close()
        for server, thread in servers:
            server.close()
            thread.join(2)
    errors = [a for _, a in answers if a.error]
    assert not errors and len(answers) > 20
    _check_offline(running.gw, tiny_run, answers)
    print(
        f"\n[rollout] 3 linux boards + 1 MCU (pty, relay), max-unavailable 1, canary 4: "
        f"{report.seconds:.1f} s ({ {n: o['seconds'] for n, o in report.outcomes.items()} }), "
        f"{n_first} requests served meanwhile, 0 errors; bad artefact: "
        f"{second.outcomes['pi2']['status']} after {second.outcomes['pi2']['seconds']:.1f} s, "
        f"halted, {len(answers) - n_first} more requests, {len(errors)} errors; every answer "
        "equal to the offline vote of the boards that answered under their models then"
    )


def _check_offline(gw: Gateway, run: Path, answers: list) -> None:
    """Every answer equals the offline vote of the boards that answered, each under the model
    it ran at that moment, on its runtime (LiteRT XNNPACK on linux, tflite-micro on mcu)."""
    from boards.profiles import get_profile
    from boards.runners import LiteRtRunner, TflmRunner

    blobs = {v: (run / "models" / f"{v}.tflite").read_bytes() for v in ("t16", "t24")}
    runners = {("linux", v): LiteRtRunner(b) for v, b in blobs.items()}
    arena = get_profile("esp32-s3").arena_limit
    runners |= {("mcu", v): TflmRunner(b, arena_bytes=arena) for v, b in blobs.items()}
    for img, a in answers:
        models = a.models or {n: gw.dep.board(n).variant for n in a.answered}
        res = {}
        for name in a.answered:
            m = models[name]
            c = gw.vote_cards[m]
            runner = runners[(gw.dep.board(name).kind, m)]
            q = runner.run(quantize(img, c["input_scale"], c["input_zero_point"]))
            res[name] = (gw.dep.board(name).id, m, result_pairs(np.asarray(q), gw.dep.k))
        vote = vote_boards(res, gw.vote_cards, gw.num_classes, gw.dep.rule, gw.weights)[0]
        assert a.winner == vote.winner, (a, models)


@pytest.mark.slow
def test_reflash_a_serial_board_through_the_running_gateway(tiny_run: Path, tmp_path: Path):
    """An emulated MCU behind a pty: its line admits one client, the gateway; flash goes
    through the gateway's relay and the board votes again within 5 s, no restart."""
    from boards.daemon import BoardOptions, build_server
    from boards.server import serve_in_thread

    port = _udp_ports(1)[0]
    specs = [
        {
            "id": 1,
            "name": "pi1",
            "kind": "linux",
            "variant": "t16",
            "link": f"udp://127.0.0.1:{port}",
        },
        {
            "id": 2,
            "name": "m2",
            "kind": "mcu",
            "variant": "t24",
            "link": "pty://m2",
            "profile": "esp32-s3",
        },
    ]
    dep = write_deployment(tmp_path, tiny_run, specs, deadline_ms=3000)
    servers = []
    for s in specs:
        server = build_server(
            BoardOptions(
                tiny_run / "models" / f"{s['variant']}.tflite",
                s["link"],
                s["id"],
                fb.derive_board_key(KEY, s["id"]),
                kind=s["kind"],
                k=2,
                heartbeat_s=0.2,
                profile=s.get("profile"),
                pty_dir=dep.pty_dir,
                model_dir=tmp_path / f"slots{s['id']}",
            )
        )
        servers.append((server, serve_in_thread(server)))
    running = RunningGateway(dep)
    x = np.random.default_rng(4).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    try:
        assert all(a == ("m2", "pi1") for _, a in running.answers(x))
        t0 = time.monotonic()
        assert (
            main(
                [
                    "flash",
                    str(tiny_run / "models" / "t16.tflite"),
                    "--deployment",
                    str(dep.path),
                    "--board",
                    "m2",
                    "--timeout",
                    "3",
                ]
            )
            == 0
        )
        flashed = time.monotonic()
        while time.monotonic() - flashed < 5.0:
            _, answered = running.answers(x[:1])[0]
            if "m2" in answered and running.gw.boards["m2"].model == "t16":
                break
        took = time.monotonic() - flashed
        assert took < 5.0, "m2 did not vote again within 5 s of flash returning"
        print(
            f"\n[re-flash mcu] flash through the gateway's relay {flashed - t0:.1f} s; m2 "
            f"voted again {took:.2f} s after flash returned "
            f"(relay {running.gw.relay.counts})"
        )
    finally:
        running.close()
        for server, thread in servers:
            server.close()
            thread.join(2)
