"""One flash as ``vp-edge flash`` runs it, callable from a script the same way: the board from
a deployment or from a URL and key options, the artefact checked as the board would check it,
its card registered for the running gateway, then the verified LOAD session.

Exit codes follow the errors: 2 usage or an artefact the board would refuse
(``FlashUsageError``), 3 link or board refusal, 4 verification failed, 5 timeout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.files import MODEL_FILE_MAX, read_limited
from vp_edge.flashing import FlashTarget, FlashUsageError


def flash_target(
    board: str,
    deployment: Path | None = None,
    board_id: int | None = None,
    key_file: str | None = None,
    insecure: bool = False,
    epoch_file: str | None = None,
    baud: int = 115200,
) -> FlashTarget:
    """The board to flash: ``board`` of the deployment file, or the URL ``board`` with the key
    (``key_file`` or ``insecure``, exactly one), id (default 1) and epoch file given."""
    from vp_edge.flashing import deployment_target, session_url

    if deployment is not None:
        from vp_edge.deployment import load_deployment

        given = [
            f
            for f, v in (
                ("--key-file", key_file),
                ("--insecure", insecure),
                ("--epoch-file", epoch_file),
                ("--board-id", board_id),
            )
            if v not in (None, False)
        ]
        if given:
            raise FlashUsageError(
                f"{', '.join(given)}: taken from the deployment with --deployment; leave them out"
            )
        return deployment_target(load_deployment(deployment), board)
    from firmware_bridge.protocol.keys import BoardKeys, read_key
    from firmware_bridge.protocol.session import DEFAULT_EPOCH_FILE

    if key_file and insecure:
        raise FlashUsageError("give --key-file or --insecure, not both")
    if not key_file and not insecure:
        raise FlashUsageError(
            "flashing needs the deployment key (--key-file F) or --insecure; "
            "or flash a deployment's board with --deployment FILE --board NAME"
        )
    url, url_baud = session_url(board)
    key = BoardKeys(read_key(key_file, f"--key-file {key_file}")) if key_file else None
    epoch = Path(epoch_file) if epoch_file else DEFAULT_EPOCH_FILE
    return FlashTarget(url, 1 if board_id is None else board_id, key, epoch, url_baud or baud)


def _warn(message: str) -> None:
    print(f"vp-edge flash: warning: {message}", file=sys.stderr)


def flash_artifact(
    artifact: str | Path,
    target: FlashTarget,
    *,
    activate: bool = True,
    timeout: float = 0.5,
    tries: int = 5,
    force: bool = False,
    show_progress: bool = True,
    warn: Callable[[str], None] = _warn,
) -> dict:
    """Flash the file ``artifact`` into ``target``'s inactive slot, verified; the report.

    Unless ``force``, the artefact is checked first as the board would (warnings go to
    ``warn``) and, for a deployment's board, its card is registered for the running gateway."""
    from firmware_bridge.flash import flash
    from vp_edge.flashing import check_artifact, deployment_card
    from vp_edge.progress import Progress

    try:
        data = read_limited(artifact, MODEL_FILE_MAX, str(artifact))
    except OSError as e:
        raise FlashUsageError(f"cannot read {artifact}: {e}") from e
    warnings = [] if force else check_artifact(data, str(artifact), target)
    card = None if force else deployment_card(data, str(artifact), target)
    if card is not None and target.dep is not None:
        from vp_edge.cards import register_card, sha256_hex

        register_card(target.dep.state_dir, sha256_hex(data), card)
    for w in warnings:
        warn(w)
    progress = Progress(len(data), "flash", enabled=show_progress)
    try:
        report = flash(
            target.url,
            data,
            board_id=target.board_id,
            key=target.key,
            epoch_file=target.epoch_file,
            activate=activate,
            timeout=timeout,
            tries=tries,
            progress=progress.update,
            baud=target.baud,
        )
    finally:
        progress.close()
    out = report.to_dict()
    if target.spec is not None:
        out.update(board=target.spec.name, kind=target.spec.kind, link=target.spec.link)
    out["warnings"] = warnings
    return out


def provision_board(
    target: str, probe: str, board_id: int, key_file: str | None, insecure: bool
) -> tuple[dict, int]:
    """``vp-edge firmware provision``: write board ``board_id``'s record (id, its own key derived
    from the master in ``key_file``, or none with ``insecure``: exactly one) into the target's
    storage sector through ``probe``; the load report and the record's address. The board never
    holds the master key."""
    from dataclasses import asdict

    from firmware_bridge.firmware.load import load
    from firmware_bridge.firmware.qemu import provision_record
    from firmware_bridge.firmware.targets import get_target
    from firmware_bridge.protocol.keys import derive_board_key, read_key

    if bool(key_file) == bool(insecure):
        raise FlashUsageError("give exactly one of --key-file F or --insecure")
    t = get_target(target)
    if t.storage is None or t.kind == "host":
        raise FlashUsageError(
            f"target {t.name} has no on-chip storage to provision; host "
            "boards take --board-id/--key from the tools that start them"
        )
    key = None
    if key_file:
        key = derive_board_key(read_key(key_file, f"--key-file {key_file}"), board_id)
    rec = provision_record(board_id, key, t.record)
    rep = load(t.name, probe=probe, raw=(t.storage.origin, rec))
    return {**asdict(rep), "board_id": board_id, "keyed": key is not None}, t.storage.origin


def flash_table(r: dict) -> str:
    """A flash report for people."""
    prev = r["previous_sha256"][:16] + "..." if r["previous_sha256"] else "none"
    who = f"{r['board']} (id {r['board_id']})" if r.get("board") else str(r["board_id"])
    return "\n".join(
        [
            f"flashed {r['size']} bytes to board {who} slot {r['slot']} at {r['url']} "
            f"in {r['seconds']:.2f} s ({r['chunks']} chunks, {r['resends']} resends)",
            f"  previous model  {prev}",
            f"  sha256          {r['sha256']}",
            "  Hash of data verified." if r["verified"] else "  NOT verified",
            "  active" if r["activated"] else "  written, not activated (--no-activate)",
        ]
    )
