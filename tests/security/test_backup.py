"""Backup and restore under load: ``python -m responses backup DEST`` while threads submit and
compaction runs; restoring it into a fresh data folder reproduces the same responses (count
and checksum of the sorted rows)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
from pathlib import Path

import pyarrow as pa

from responses import cli
from responses.store import ParquetResponseStore
from tests.security.conftest import ANSWERS, submit


def rows_checksum(table: pa.Table) -> str:
    """SHA-256 of the rows sorted by response id, every column, as canonical JSON."""
    rows = sorted(table.to_pylist(), key=lambda r: r["response_id"])
    text = json.dumps(rows, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_backup_while_submitting_then_restore_into_a_fresh_folder(tmp_path: Path):
    root = tmp_path / "data"
    store = ParquetResponseStore(root)
    for i in range(150):
        submit(store, answers={**ANSWERS, "age": 18 + i % 80, "comment": f"#{i}"})
    store.compact("secq")
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    problems: list[BaseException] = []

    def keep_submitting(k: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                rid = submit(store, answers={**ANSWERS, "comment": f"t{k}-{i}"}).response_id
                with lock:
                    acknowledged.append(rid)
                i += 1
        except BaseException as exc:  # reported below
            problems.append(exc)

    def keep_compacting() -> None:
        try:
            while not stop.is_set():
                store.compact("secq")
                stop.wait(0.2)
        except BaseException as exc:  # reported below
            problems.append(exc)

    threads = [threading.Thread(target=keep_submitting, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=keep_compacting))
    for t in threads:
        t.start()
    try:
        while len(acknowledged) < 100:
            stop.wait(0.05)
        with lock:
            before = set(acknowledged)
        code, out, err = run_cli("--data-dir", str(root), "--actor", "ops", "backup",
                                 str(tmp_path / "backup"))
        with lock:
            after = set(acknowledged)
        while len(acknowledged) < len(after) + 50:  # and submissions go on afterwards
            stop.wait(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []
    assert code == 0, err
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert f"{manifest['rows']} rows" in out

    code, out, err = run_cli("--data-dir", str(tmp_path / "fresh"), "--actor", "ops", "restore",
                             str(tmp_path / "backup"))
    assert code == 0, err
    fresh = ParquetResponseStore(tmp_path / "fresh")
    restored = fresh.read_table("secq").table
    ids = set(restored.column("response_id").to_pylist())
    assert restored.num_rows == len(ids) == manifest["rows"]
    # everything acknowledged before the backup began is in it; nothing that was never
    # acknowledged is; what came in during the backup may or may not be
    initial = set(store.read_table("secq").table.column("response_id").to_pylist()) - set(
        acknowledged
    )
    assert len(initial) == 150
    assert initial | before <= ids <= initial | after
    # the same responses, row for row
    source = store.read_table("secq").table
    mask = pa.array([rid in ids for rid in source.column("response_id").to_pylist()])
    assert rows_checksum(restored) == rows_checksum(source.filter(mask))
    assert [e.action for e in fresh.state.read_audit()][-1] == "restore"
