"""Boards and a gateway over a real Mosquitto: live equals offline, a broker restart survived,
a rogue client's forged, replayed and corrupted frames never accepted."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from board_helpers import FakeBoards, make_fake_run, write_deployment
from test_gateway_faults import check_answers, images

import firmware_bridge as fb
from firmware_bridge.transport import LinkError, for_board, parse_link
from firmware_bridge.transport.mqtt import new_client, topic
from vp_edge.gateway.core import Gateway, run_inputs

NAMES = ("pi1", "pi2", "pi3", "pi4")


def mqtt_dep(tmp_path: Path, broker):
    url = broker.url("t1")
    boards = [{"id": i + 1, "name": n, "kind": "linux", "variant": ("t16", "t24")[i % 2],
               "link": for_board(url, i + 1)} for i, n in enumerate(NAMES)]  # fmt: skip
    return write_deployment(tmp_path, make_fake_run(tmp_path), boards)


def test_urls_parse_and_complete():
    assert parse_link("mqtt://h/dep").port == 1883
    assert parse_link("mqtts://h/dep/3?ca=/x").framing == "datagram"
    assert for_board("mqtt://h:1/dep?qos=1", 7) == "mqtt://h:1/dep/7?qos=1"
    assert for_board("udp://h:5", 7) == "udp://h:5"
    for bad in (
        "mqtt://h",
        "mqtt://h/a/b/c",
        "mqtt://h/d?x=1",
        "mqtt://h/d/99999",
        "mqtt://h/d?qos=2",
        "mqtt://h/d?ca=f",
    ):
        with pytest.raises(LinkError):
            parse_link(bad)


def _run(dep, x, during=None, settle_s: float = 0.0):
    async def main():
        gw = Gateway(dep)
        await gw.start(hello_timeout=5.0)
        try:
            answers = await run_inputs(gw, x, None, 1, during)
            await asyncio.sleep(settle_s)  # frames still on their way are counted
            return gw, answers
        finally:
            await gw.close()

    return asyncio.run(main())


@pytest.fixture
def boards(tmp_path, broker):
    dep = mqtt_dep(tmp_path, broker)
    fake = FakeBoards(dep)
    for n in NAMES:
        fake.start(n)
    yield dep, fake
    fake.stop()


def test_mqtt_live_equals_offline(boards):
    dep, _ = boards
    x = images(8)
    frozen: list[int] = []  # the start-up heap is out of the collector's scans while it runs
    gw, answers = _run(dep, x, lambda _i: frozen.append(gc.get_freeze_count()))
    check_answers(gw, x, answers)
    assert not any(a.degraded for a in answers)
    assert min(frozen) > 0  # (released after the last gateway: tests/unit/test_gateway_lag.py)


def test_broker_restart_survived(boards, broker):
    """In-flight requests are answered by deadline while the broker is away; then all rejoin."""
    dep, _ = boards
    x = images(30, 2)

    def during(i: int) -> None:
        if i == 5:
            broker.stop()
        if i == 8:
            broker.start()
        if i >= 8:
            time.sleep(0.1)  # give the links their back-off to reconnect

    gw, answers = _run(dep, x, during)
    check_answers(gw, x, answers)
    assert any(a.error for a in answers[5:8])  # the broker was really gone
    assert all(a.error is None and not a.degraded for a in answers[-3:]), answers[-3:]


def _drops(auths) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in auths:
        for k, v in a.stats.items():
            if k != "accepted" and v:
                out[k] = out.get(k, 0) + v
    return out


def test_rogue_client_frames_never_accepted(boards, broker, capsys):
    """Forged (wrong key), replayed and corrupted frames published on board and gateway topics."""
    dep, fake = boards
    captured: list[tuple[str, bytes]] = []

    def on_connect(c, *_a) -> None:
        c.subscribe(topic("t1", "+", "tx"))

    rogue = new_client(
        parse_link(broker.url("t1")),
        "rogue",
        on_connect,
        lambda _c, _u, m: captured.append((m.topic, bytes(m.payload))),
    )
    sent = {"to_boards_forged": 0, "to_gateway_forged": 0, "replayed": 0, "corrupted": 0}
    wrong = bytes(range(16, 32))
    evil_gw = fb.Sender(wrong, fb.Counter(7), from_gateway=True)
    evil_board = fb.Sender(wrong, fb.Counter(7))

    own: set[bytes] = set()  # the rogue hears its own forgeries on tx: replay genuine ones only

    def attack(_: int) -> None:
        for bid in range(1, 5):
            rogue.publish(
                topic("t1", bid, "rx"), evil_gw.frame(fb.Probe(fb.MsgType.HELLO), 0, board_id=bid)
            )
            forged = evil_board.frame(fb.Heartbeat(0, 0), 0, board_id=bid)
            own.add(forged)
            rogue.publish(topic("t1", bid, "tx"), forged)
            sent["to_boards_forged"] += 1
            sent["to_gateway_forged"] += 1
        for t, f in [c for c in captured if c[1] not in own][-2:]:
            bad = bytearray(f)
            bad[len(bad) // 2] ^= 0x55
            rogue.publish(t, f)
            rogue.publish(t, bytes(bad))
            sent["replayed"] += 1
            sent["corrupted"] += 1
        time.sleep(0.05)

    x = images(6, 3)
    try:
        gw, answers = _run(dep, x, attack, settle_s=0.5)
    finally:
        rogue.disconnect()
        rogue.loop_stop()
    check_answers(gw, x, answers)
    gw_auth = [b.adapter.auth for b in gw.boards.values()]
    board_auth = [s.auth for s in fake.servers.values()]
    genuine_from_boards = sum(s.stats["tx"] for s in fake.servers.values())
    accepted = sum(a.stats["accepted"] for a in gw_auth)
    gw_drops, board_drops = _drops(gw_auth), _drops(board_auth)
    with capsys.disabled():
        print(
            f"\n[mqtt rogue] published {sent}; gateway accepted {accepted} of the boards' "
            f"{genuine_from_boards} genuine frames, dropped {gw_drops}; boards dropped "
            f"{board_drops}; every answer equals the offline vote"
        )
    assert sent["replayed"] > 0
    assert accepted <= genuine_from_boards  # nothing of the rogue's was accepted
    assert sum(board_drops.values()) == sent["to_boards_forged"]
    assert gw_drops == {
        "bad_tag": sent["to_gateway_forged"],
        "replay": sent["replayed"],
        "bad_crc": sent["corrupted"],
    }


def test_microcontroller_through_the_bridge(tmp_path, broker):
    """Three boards on MQTT and one mcu on a (throttled) pty behind the serial<->MQTT bridge."""
    import threading

    from boards.bridge import bridge

    url = broker.url("t1")
    spec = [{"id": i + 1, "name": n, "kind": "linux", "variant": ("t16", "t24")[i % 2],
             "link": for_board(url, i + 1)} for i, n in enumerate(NAMES[:3])]  # fmt: skip
    mcu = {"id": 4, "name": "m4", "kind": "mcu", "variant": "t24", "profile": "esp32-s3"}
    run = make_fake_run(tmp_path)
    (tmp_path / "site").mkdir()
    site = write_deployment(tmp_path / "site", run, [*spec, {**mcu, "link": "pty://m4"}])
    dep = write_deployment(tmp_path, run, [*spec, {**mcu, "link": url}])
    fake = FakeBoards(site)
    for n in (*NAMES[:3], "m4"):
        fake.start(n)
    br = bridge("pty://m4", url, 4, pty_dir=site.pty_dir)
    t = threading.Thread(target=br.run, daemon=True)
    t.start()
    try:
        x = images(6, 5)
        gw, answers = _run(dep, x)
    finally:
        br.stop.set()
        t.join(3)
        fake.stop()
    check_answers(gw, x, answers)
    assert all("m4" in a.answered and not a.degraded for a in answers)
    assert br.counts["up"] >= 6 and br.counts["down"] >= 6


def test_requests_topic_dedupes_and_refuses_foreign_reply_topics(boards, broker):
    """A repeated id is answered from the cache (classified once); bad requests get errors;
    a request asking for replies outside the deployment's reply topics is not served."""
    import base64
    import threading

    from vp_edge.gateway.fleet_client import FleetClient
    from vp_edge.gateway.mqtt import request_topic, serve_mqtt

    dep, _ = boards
    url = broker.url("t1")
    ready, state = threading.Event(), {}

    async def main() -> None:
        gw = Gateway(dep)
        await gw.start(hello_timeout=5.0)
        state["loop"], state["stop"], state["gw"] = asyncio.get_running_loop(), asyncio.Event(), gw
        state["loop"].call_later(0.5, ready.set)
        try:
            state["out"] = await serve_mqtt(gw, url, state["stop"])
        finally:
            await gw.close()

    t = threading.Thread(target=asyncio.run, args=(main(),))
    t.start()
    assert ready.wait(15)
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(images(1)[0][..., 0]).save(buf, format="PNG")
    b64 = base64.b64encode(buf.getvalue()).decode()
    with FleetClient(url) as c:
        c.send("same", b64)
        time.sleep(0.2)
        c.send("same", b64)  # a retry: same id, same correlation
        c.client.publish(
            request_topic("t1"), b"{not json", qos=1, properties=_props(c.reply_topic, b"junk")
        )
        c.client.publish(
            request_topic("t1"), b"{}", qos=1, properties=_props("elsewhere/inbox", b"x")
        )
        end = time.monotonic() + 5
        while time.monotonic() < end and (
            len(c.replies.get("same", [])) < 2 or "None" not in c.replies
        ):
            time.sleep(0.05)
        replies = {k: list(v) for k, v in c.replies.items()}
    state["loop"].call_soon_threadsafe(state["stop"].set)
    t.join(10)
    stats, counts = state["out"]
    same = [r for _, r in replies["same"]]
    assert len(same) == 2 and same[0] == same[1] and same[0]["ok"]
    assert stats.outcomes.get("answered") == 1 and counts["cache_hits"] == 1  # classified once
    assert replies["None"][0][1]["code"] == "bad_request"
    assert counts["bad_reply_topic"] == 1


def _props(reply_to: str, corr: bytes):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = Properties(PacketTypes.PUBLISH)
    p.ResponseTopic, p.CorrelationData = reply_to, corr
    return p
