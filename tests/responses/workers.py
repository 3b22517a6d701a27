"""Processes the concurrency and crash tests start: ``python -m tests.responses.workers ...``.

- ``submit ROOT FIRST COUNT GO_FILE``: wait for GO_FILE, submit records FIRST..FIRST+COUNT-1
  (tests.responses.conftest.make_record), print each acknowledged response id.
- ``writer ROOT SEED``: submit new records forever, printing each acknowledged id (flushed);
  the test kills it.
- ``compact ROOT``: print ``start``, compact questionnaire ``cfl``, print ``done``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from responses.store import ParquetResponseStore
from tests.responses.conftest import make_record


def main(argv: list[str]) -> int:
    command, root = argv[0], argv[1]
    store = ParquetResponseStore(root)
    if command == "submit":
        first, count, go = int(argv[2]), int(argv[3]), Path(argv[4])
        records = [make_record(i) for i in range(first, first + count)]
        while not go.exists():
            time.sleep(0.005)
        for r in records:
            print(store.submit(r).response_id, flush=True)
    elif command == "writer":
        i = int(argv[2]) * 1_000_000
        while True:
            print(store.submit(make_record(i)).response_id, flush=True)
            i += 1
    elif command == "compact":
        print("start", flush=True)
        store.compact("cfl")
        print("done", flush=True)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
