"""Child process for arena probing: ``python -m converters._arena_worker MODEL ARENA|report``.

Exit 0 when tflite-micro allocates and invokes with ARENA bytes. With
``report`` it runs with a generous arena and prints the arena it recorded,
rounded up to 16 bytes (an upper bound the parent then tightens).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import numpy as np


def main() -> int:
    path, arg = sys.argv[1], sys.argv[2]
    from converters.interpreters import default_arena, tflm

    data = open(path, "rb").read()
    arena = default_arena(len(data)) if arg == "report" else int(arg)
    it = tflm(data, arena)
    d = it.get_input_details(0)
    it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
    it.invoke()
    if arg != "report":
        return 0
    # print_allocations writes to the C stderr; capture it through a temp file.
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            it.print_allocations()
        finally:
            os.dup2(saved, 2)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    total = int(m.group(1)) if m else arena
    # recorded totals can under-report: verify upward from there in the parent
    print(min(arena, (int(total * 1.25) + 15) // 16 * 16))
    return 0


if __name__ == "__main__":
    sys.exit(main())
