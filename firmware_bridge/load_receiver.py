"""Board side of the LOAD session for boards that keep their model as a file (linux, pynq,
emulated): the same session, checks and A/B slots as the MCU firmware, on a directory.

Mount it in a board server's frame dispatch (frames already accepted by ``Auth``)::

    loader = LoadReceiver(state_dir, key=KEY, on_activate=lambda path, sha: reload(path))
    ...
    if loader.handles(frame):
        reply = loader.handle(frame)          # a LoadAck or ReadbackReply
        send(reply, request_id=frame.request_id)
    model_path = loader.active_path           # at start-up: the verified active model, or None

Files in the directory: ``slot0.bin``, ``slot1.bin`` and ``state.json`` (active slot, verified
size and SHA-256 per slot, last LOAD_BEGIN counter), replaced atomically (write, fsync, rename),
so a crash at any point leaves the previous state: the old model keeps serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from pathlib import Path

from .protocol import (
    SLOT_ACTIVE,
    LoadAck,
    LoadBegin,
    LoadChunk,
    LoadCommit,
    Message,
    MsgType,
    Readback,
    ReadbackReply,
    Status,
)
from .protocol.crc import crc32c
from .protocol.frame import Frame

#: ``check(path)`` raises or returns False when the artefact must not be activated
Check = Callable[[Path], bool]


def check_vpw(path: Path) -> bool:
    """Default check: a ``.vpw`` must load in the C engine and pass its golden self-test;
    other artefacts (e.g. .tflite) are accepted here and left to the board's own check."""
    data = path.read_bytes()
    if not data.startswith(b"VPW1"):
        return True
    from .engine import Engine  # numpy: only boards that run .vpw need it

    eng = Engine(data)
    return bool(eng.info["has_golden"]) and eng.self_test()


def _sha_file(path: Path, size: int) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(size))
    return h.digest()


class LoadReceiver:
    """Answers LOAD_BEGIN/LOAD_CHUNK/LOAD_COMMIT and READBACK frames; owns two slot files."""

    TYPES = frozenset(
        {MsgType.LOAD_BEGIN, MsgType.LOAD_CHUNK, MsgType.LOAD_COMMIT, MsgType.READBACK}
    )

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        key: bytes | None,
        slot_size: int = 64 << 20,
        check: Check | None = check_vpw,
        on_activate: Callable[[Path, bytes], None] | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key, self.slot_size, self.check, self.on_activate = key, slot_size, check, on_activate
        self.state = self._load_state()
        self.session: dict | None = None
        self._select()

    # ---- persistent state
    def _load_state(self) -> dict:
        try:
            st = json.loads((self.dir / "state.json").read_text())
            if isinstance(st, dict) and len(st.get("slots", ())) == 2:
                return st
        except (OSError, ValueError):
            pass
        return {"active": None, "load_ctr": 0, "slots": [None, None]}

    def _save_state(self) -> None:
        path = self.dir / "state.json"
        tmp = path.with_name("state.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(self.state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def slot_path(self, slot: int) -> Path:
        return self.dir / f"slot{slot}.bin"

    def _intact(self, slot: int) -> bool:
        rec = self.state["slots"][slot]
        p = self.slot_path(slot)
        return bool(rec) and p.exists() and _sha_file(p, rec["size"]).hex() == rec["sha256"]

    def _select(self) -> None:
        """Start-up: the recorded active slot if intact, else the other verified slot."""
        act = self.state["active"]
        if act is not None and self._intact(act):
            return
        other = [s for s in (0, 1) if s != act and self._intact(s)]
        self.state["active"] = other[0] if other else None

    # ---- public view
    @property
    def active_slot(self) -> int | None:
        return self.state["active"]

    @property
    def active_path(self) -> Path | None:
        a = self.state["active"]
        return None if a is None else self.slot_path(a)

    @property
    def active_sha256(self) -> bytes | None:
        a = self.state["active"]
        return None if a is None else bytes.fromhex(self.state["slots"][a]["sha256"])

    def handles(self, frame: Frame) -> bool:
        return frame.msg_type in self.TYPES

    def handle(self, frame: Frame) -> Message | None:
        """The reply to an accepted LOAD_* or READBACK frame (None for other types)."""
        m = frame.msg
        if isinstance(m, LoadBegin):
            return self._begin(frame, m)
        if isinstance(m, LoadChunk):
            return self._chunk(frame, m)
        if isinstance(m, LoadCommit):
            return self._commit(frame, m)
        if isinstance(m, Readback):
            return self._readback(m)
        return None

    # ---- the session
    def _begin(self, f: Frame, m: LoadBegin) -> LoadAck:
        self.session = None
        ack = lambda st: LoadAck(MsgType.LOAD_BEGIN, st, 0)  # noqa: E731
        if f.counter <= self.state["load_ctr"]:
            return ack(Status.LOAD_NO_SESSION)
        if m.slot not in (0, 1) or m.slot == self.state["active"]:
            return ack(Status.LOAD_BAD_SLOT)
        if m.size > self.slot_size:
            return ack(Status.LOAD_TOO_BIG)
        try:
            self.state["load_ctr"] = f.counter
            self.state["slots"][m.slot] = None
            self._save_state()
            self.slot_path(m.slot).write_bytes(b"")
        except OSError:
            return ack(Status.LOAD_FLASH_ERROR)
        self.session = {
            "id": f.request_id,
            "slot": m.slot,
            "size": m.size,
            "next": 0,
            "sha": m.sha256,
            "tag": m.hmac_sha256,
        }
        return ack(Status.OK)

    def _chunk(self, f: Frame, m: LoadChunk) -> LoadAck:
        s = self.session
        nxt = s["next"] if s else 0
        ack = lambda st: LoadAck(MsgType.LOAD_CHUNK, st, s["next"] if s else 0)  # noqa: E731
        if s is None or f.request_id != s["id"]:
            return ack(Status.LOAD_NO_SESSION)
        if crc32c(m.data) != m.crc32c:
            return ack(Status.LOAD_BAD_CRC)
        end = m.offset + len(m.data)
        if end > s["size"]:
            return ack(Status.LOAD_TOO_BIG)
        if end <= nxt:
            return ack(Status.OK)
        if m.offset != nxt:
            return ack(Status.LOAD_BAD_OFFSET)
        try:
            with open(self.slot_path(s["slot"]), "r+b") as fh:
                fh.seek(m.offset)
                fh.write(m.data)
        except OSError:
            return ack(Status.LOAD_FLASH_ERROR)
        s["next"] = end
        return ack(Status.OK)

    def _verify(self, s: dict) -> Status:
        path = self.slot_path(s["slot"])
        if s["next"] != s["size"]:
            return Status.LOAD_INCOMPLETE
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
            data = fh.read(s["size"] + 1)
        if len(data) != s["size"] or hashlib.sha256(data).digest() != s["sha"]:
            return Status.LOAD_BAD_HASH
        tag = hmac.new(self.key or b"", data, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, s["tag"]):
            return Status.LOAD_BAD_TAG
        try:
            if self.check is not None and not self.check(path):
                return Status.INFER_FAILED
        except Exception:
            return Status.INFER_FAILED
        return Status.OK

    def _commit(self, f: Frame, m: LoadCommit) -> LoadAck:
        s = self.session
        if s is None or f.request_id != s["id"]:
            return LoadAck(MsgType.LOAD_COMMIT, Status.LOAD_NO_SESSION, 0)
        self.session = None
        st = self._verify(s)
        if st == Status.OK:
            self.state["slots"][s["slot"]] = {"size": s["size"], "sha256": s["sha"].hex()}
            if m.activate:
                self.state["active"] = s["slot"]
            try:
                self._save_state()
            except OSError:
                self.state = self._load_state()
                st = Status.LOAD_FLASH_ERROR
        if st == Status.OK and m.activate and self.on_activate is not None:
            self.on_activate(self.slot_path(s["slot"]), s["sha"])
        return LoadAck(MsgType.LOAD_COMMIT, st, s["size"] if st == Status.OK else s["next"])

    def _readback(self, m: Readback) -> ReadbackReply:
        slot = self.state["active"] if m.slot == SLOT_ACTIVE else m.slot
        if slot is None:
            return ReadbackReply(SLOT_ACTIVE, Status.NO_MODEL, 0, bytes(32))
        if slot not in (0, 1):
            return ReadbackReply(slot, Status.LOAD_BAD_SLOT, 0, bytes(32))
        rec = self.state["slots"][slot]
        if not rec or not self.slot_path(slot).exists():
            return ReadbackReply(slot, Status.NO_MODEL, 0, bytes(32))
        return ReadbackReply(
            slot, Status.OK, rec["size"], _sha_file(self.slot_path(slot), rec["size"])
        )
