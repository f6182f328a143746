"""``vp-edge gateway --listen``: one gateway serving clients over UDP or its share over MQTT.

``--boards`` gives a gateway its own set of the deployment's boards (a shard), so that each
board carries one gateway's load; several gateways over one broker each own a disjoint set
(docs/fleet.md). Each shard keeps its gateway epoch file apart (``state_dir/gw-<name>``); boards
keep a replay window per sender epoch (docs/protocol.md §4), so senders never lock each other out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.transport import parse_link
from vp_edge.deployment import Deployment
from vp_edge.errors import DeploymentError, GatewayError, VpEdgeError
from vp_edge.gateway.core import Gateway
from vp_edge.gateway.front import Limits


def check_listen(url: str) -> str:
    """The scheme of a ``--listen`` URL once it is known to work: a UDP address is bound (and
    let go: the front end binds it again) so that a busy or bad one fails before any board is
    contacted."""
    scheme = parse_link(url).scheme
    if scheme not in ("udp", "mqtt", "mqtts"):
        raise GatewayError(
            f"--listen {url}: expected udp://HOST:PORT or mqtt://BROKER:1883/DEPLOYMENT"
        )
    if scheme == "udp":
        spec = parse_link(url)
        family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.bind((spec.host, spec.port))
        except (OSError, OverflowError) as e:
            raise GatewayError(
                f"cannot listen on {url}: {getattr(e, 'strerror', None) or e}"
            ) from None
    return scheme


@dataclass(frozen=True)
class ServeOptions:
    listen: str
    limits: Limits = Limits()
    group: str = "gateways"
    boards: tuple[str, ...] = ()
    name: str = ""
    metrics: str | None = None


def shard(dep: Deployment, names: tuple[str, ...], name: str) -> Deployment:
    """The deployment restricted to ``names`` (all when empty), with its own state folder."""
    if not names:
        return dep
    chosen = tuple(dep.board(n) for n in names)
    if len({b.name for b in chosen}) != len(chosen):
        raise DeploymentError(f"--boards {','.join(names)}: a board is named twice")
    tag = name or "-".join(b.name for b in chosen)[:40]
    return dataclasses.replace(dep, boards=chosen, state_dir=dep.state_dir / f"gw-{tag}")


async def serve(
    dep: Deployment,
    opts: ServeOptions,
    stop: asyncio.Event,
    on_start: Callable[[Gateway], None] | None = None,
    on_answer: Callable[[dict], None] | None = None,
) -> dict:
    """Serve until ``stop``; the gateway's report with the front end's counts.

    Every option is checked and every socket bound before the first frame goes to a board
    (``Gateway.start``): a command that fails must leave the boards to the gateway already
    serving them."""
    scheme = check_listen(opts.listen)
    gw = Gateway(shard(dep, opts.boards, opts.name))  # reads cards; contacts no board
    exporter = None
    if opts.metrics:
        from vp_edge.gateway.metrics import serve_metrics

        exporter = serve_metrics(gw, opts.metrics)
    extra: dict = {}
    try:
        await gw.start()
        if on_start is not None:
            on_start(gw)
        if scheme == "udp":
            from vp_edge.gateway.udp_server import serve_udp

            front = await serve_udp(gw, opts.listen, stop, on_answer, opts.limits)
        else:
            from vp_edge.gateway.mqtt import serve_mqtt

            front, extra = await serve_mqtt(gw, opts.listen, stop, opts.group, opts.limits)
    finally:
        if exporter is not None:
            exporter.close()
        await gw.close()
    return {**gw.report(), "front_end": {**front.to_dict(), **extra}}


def serve_until_signal(dep: Deployment, opts: ServeOptions, show_answers: bool = True) -> dict:
    """``serve`` until SIGINT or SIGTERM, saying on standard error when it serves (and each
    answer, with ``show_answers``), as ``vp-edge gateway --listen`` does; the report."""
    import signal
    import sys

    if opts.limits.max_inflight < 1 or opts.limits.max_queue < 1:
        flag = "max_inflight" if opts.limits.max_inflight < 1 else "max_queue"
        raise VpEdgeError(f"--{flag.replace('_', '-')} must be >= 1")

    def started(gw: Gateway) -> None:
        print(
            f"gateway: serving {opts.listen} ({sum(b.up for b in gw.boards.values())}/"
            f"{len(gw.boards)} boards up)"
            + (f", metrics and status page on http://{opts.metrics}/" if opts.metrics else "")
            + "; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    def show(reply: dict) -> None:
        if show_answers:
            what = reply.get("class_name") if reply.get("ok") else reply.get("error")
            print(f"answer id={reply.get('id')}: {what}", file=sys.stderr)

    async def main() -> dict:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await serve(dep, opts, stop, started, show)

    return asyncio.run(main())
