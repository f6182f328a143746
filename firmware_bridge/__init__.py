"""firmware_bridge: the wire and the boards' code, in four subpackages: ``protocol`` (the vp-edge
wire protocol, spec in docs/protocol.md, stdlib only), ``transport`` (links), ``engine`` (the
portable C engine) and ``firmware`` (the board firmware's targets, build, load and QEMU); beside
them the LOAD session's client (``flash``) and board side (``load_receiver``). Importing the
package gives the protocol's public names (docs/architecture.md lists the old module paths).

Board side: decode INFER (``StreamDecoder``/``decode_datagram`` with ``Auth(role="board")``),
reassemble with ``Reassembler``, answer ``Result``/``Hello``/``Heartbeat``/``Error`` through a
``Sender``. Gateway side: ``split_infer`` + ``Sender(from_gateway=True)``, decode RESULTs with
``Auth(role="gateway")``. The C twin of this codec is in ``protocol/c/`` (``vp_proto.h``).
"""

from .errors import BridgeError, ChunkError, CounterError, KeyFileError, ProtocolError
from .protocol import (
    DROP_REASONS,
    MAX_FRAME,
    MAX_K,
    STATUS_TEXT,
    BoardKind,
    Error,
    Flag,
    Heartbeat,
    Hello,
    Infer,
    InferStage,
    LoadAck,
    LoadBegin,
    LoadChunk,
    LoadCommit,
    Message,
    MsgType,
    Probe,
    Readback,
    ReadbackReply,
    Result,
    Status,
    Tensor,
    result_frame_size,
    unpack_message,
)
from .protocol.chunk import (
    Reassembler,
    chunk_capacity,
    split_chunks,
    split_infer,
    split_infer_stage,
    split_tensor,
)
from .protocol.cobs import decode as cobs_decode
from .protocol.cobs import encode as cobs_encode
from .protocol.counter import Counter, EpochStore, boot_counter
from .protocol.crc import crc32c
from .protocol.frame import (
    Auth,
    Frame,
    Sender,
    StreamDecoder,
    decode_datagram,
    encode_frame,
    tag,
    to_serial,
)
from .protocol.keys import BoardKeys, derive_board_key, parse_key, read_key

__all__ = [
    "DROP_REASONS",
    "MAX_FRAME",
    "MAX_K",
    "STATUS_TEXT",
    "Auth",
    "BoardKeys",
    "BoardKind",
    "BridgeError",
    "KeyFileError",
    "boot_counter",
    "derive_board_key",
    "parse_key",
    "read_key",
    "ChunkError",
    "Counter",
    "CounterError",
    "EpochStore",
    "Error",
    "Flag",
    "Frame",
    "Heartbeat",
    "Hello",
    "Infer",
    "InferStage",
    "LoadAck",
    "LoadBegin",
    "LoadChunk",
    "LoadCommit",
    "Message",
    "MsgType",
    "Probe",
    "ProtocolError",
    "Readback",
    "ReadbackReply",
    "Reassembler",
    "Result",
    "Sender",
    "Status",
    "StreamDecoder",
    "Tensor",
    "chunk_capacity",
    "cobs_decode",
    "cobs_encode",
    "crc32c",
    "decode_datagram",
    "encode_frame",
    "result_frame_size",
    "split_chunks",
    "split_infer",
    "split_infer_stage",
    "split_tensor",
    "tag",
    "to_serial",
    "unpack_message",
]
