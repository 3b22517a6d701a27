"""Command line for administrators: ``python -m responses COMMAND ...``.

Every command works on the data folder of the settings in force (``--data-dir`` overrides)
and records administrative actions in the audit log under ``--actor`` (default: the login
name). Exit status: 0 done, 1 the store refused or failed (one-line message), 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from responses.config import SETTINGS, load_config
from responses.errors import ConfigError, InvitationError, ResponseError, StoreError
from responses.state import write_token_csv
from responses.store import ParquetResponseStore

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _one_line(text: str) -> str:
    """The message on one line: newlines become spaces, other control characters (which a
    typed path may hold: a vertical tab, a terminal escape) are shown escaped."""
    text = text.replace("\n", " ")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "admin"


def _parser() -> _Parser:
    parser = _Parser(
        prog="python -m responses",
        description="Administer the response store: compaction, invitations, deletion on "
        "request, backup and restore, purging, the audit log.",
    )
    parser.add_argument("--data-dir", type=Path, help="data folder (default: from the settings)")
    parser.add_argument("--actor", default=None, help="who is acting (default: login name)")
    # The same two options are accepted after the command too.
    common = _Parser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--actor", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help: str) -> _Parser:
        return sub.add_parser(name, help=help, parents=[common])

    command("list", "questionnaires, versions and response counts")

    p = command("compact", "merge small response files into large ones")
    p.add_argument("--questionnaire", help="only this questionnaire (default: all)")
    p.add_argument("--version", help="only this version")

    p = command("tokens", "make single-use invitation tokens and write them as CSV")
    p.add_argument("--questionnaire", required=True, help="questionnaire id")
    p.add_argument("--n", type=int, required=True, help="how many tokens")
    p.add_argument("--out", type=Path, required=True, help="CSV file to create (token, link)")
    p.add_argument("--base-url", help="survey address for the links (default: public_url)")

    p = command("invitations", "how many tokens are unused, started, submitted")
    p.add_argument("--questionnaire", required=True, help="questionnaire id")

    p = command("delete", "remove a response everywhere, on request")
    p.add_argument(
        "response_id", help="the response id (an older id starting with - goes after --)"
    )
    p.add_argument("--reason", required=True, help="why (recorded in the audit log)")

    p = command("backup", "copy the data folder consistently")
    p.add_argument("dest", type=Path, help="new, empty folder")
    p.add_argument("--hardlink", action="store_true", help="hard-link instead of copying")

    p = command("restore", "replace the data with a checked backup")
    p.add_argument("src", type=Path, help="a folder made by 'backup'")

    command("purge", "remove expired drafts and contact details")

    p = command("audit", "show the audit log")
    p.add_argument("--limit", type=int, default=50, help="show the last N entries (default 50)")
    p.add_argument("--action", help="only entries of this action")

    command("settings", "show the settings in force and where they come from")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: " + ", ".join(sorted([*_COMMANDS, "settings"])))
    try:
        config = load_config()
        root = args.data_dir if args.data_dir is not None else config.data_dir
        actor = args.actor or _actor()
        if args.command == "settings":
            for s in SETTINGS:
                value = getattr(config, s.name)
                print(f"{s.name} = {value}  ({config.sources[s.name]})")
            return 0
        with ParquetResponseStore(
            root,
            row_group_size=config.compact_row_group_size,
            target_rows=config.compact_target_rows,
            temp_max_age=config.temp_max_age_seconds,
            draft_retention_days=config.draft_retention_days,
            contact_retention_days=config.contact_retention_days,
            busy_timeout=config.state_busy_timeout_seconds,
        ) as store:
            return _COMMANDS[args.command](store, args, actor, config.public_url)
    except (StoreError, ResponseError, InvitationError, ConfigError) as exc:
        print(f"{parser.prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1


def _list(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    qids = store.list_questionnaires()
    if not qids:
        print(f"no responses in {store.root}")
    for qid in qids:
        for version in store.list_versions(qid):
            print(f"{qid}\t{version}\t{store.count(qid, version=version)}")
    return 0


def _compact(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    qids = [args.questionnaire] if args.questionnaire else store.list_questionnaires()
    for qid in qids:
        r = store.compact(qid, version=args.version, actor=actor)
        print(
            f"{qid}: {r.files_merged} files merged into {r.files_written} in {r.partitions} "
            f"partitions, {r.rows} rows, {r.duplicates_dropped} duplicates dropped, "
            f"{len(r.quarantined)} quarantined, {r.seconds:.1f} s"
        )
    return 0


def _tokens(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    if args.out.exists():
        raise StoreError(f"{args.out} already exists: choose a new file name.")
    if not args.out.parent.is_dir():
        raise StoreError(f"folder {args.out.parent} does not exist: create it first.")
    tokens = store.state.generate_tokens(args.questionnaire, args.n, actor=actor)
    write_token_csv(args.out, args.questionnaire, tokens, public_url=args.base_url or url)
    print(f"{len(tokens)} tokens for '{args.questionnaire}' written to {args.out} (mode 0600)")
    return 0


def _invitations(
    store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str
) -> int:
    c = store.state.token_counts(args.questionnaire)
    print(
        f"{c.questionnaire_id}: {c.total} tokens, {c.unused} unused, {c.started} started, "
        f"{c.submitted} submitted"
    )
    return 0


def _delete(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    # as copied from the respondent's receipt, perhaps with spaces around it
    r = store.delete(args.response_id.strip(), reason=args.reason, actor=actor)
    if r.found:
        print(
            f"deleted {r.response_id}: {r.files_removed} files removed, {r.files_rewritten} "
            f"rewritten, {r.drafts_removed} drafts, {r.contacts_removed} contact records"
        )
    else:
        print(
            f"{r.response_id} was not stored (nothing to remove); {r.drafts_removed} drafts, "
            f"{r.contacts_removed} contact records removed; it can no longer be submitted"
        )
    return 0


def _backup(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    r = store.backup(args.dest, actor=actor, hardlink=args.hardlink)
    print(f"backup {r.path}: {r.files} files, {r.rows} rows, {r.bytes} bytes, sha256 {r.checksum}")
    return 0


def _restore(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    r = store.restore(args.src, actor=actor)
    print(f"restored {r.files} files, {r.rows} rows from {r.source} (sha256 {r.checksum})")
    if r.previous is not None:
        print(f"the data it replaced is in {r.previous}")
    return 0


def _purge(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    r = store.state.purge_expired(actor=actor)
    print(f"purged {r.drafts} expired drafts and {r.contacts} expired contact records")
    return 0


def _audit(store: ParquetResponseStore, args: argparse.Namespace, actor: str, url: str) -> int:
    if not 1 <= args.limit <= 1_000_000:
        raise ResponseError(f"--limit must be from 1 to 1,000,000; got {args.limit}.")
    for e in store.state.read_audit(action=args.action, limit=args.limit):
        details = ", ".join(f"{k}={v}" for k, v in e.details.items())
        at = e.at.isoformat(timespec="seconds")
        print(f"{e.seq}\t{at}\t{e.actor}\t{e.action}\t{e.target}\t{details}")
    return 0


_COMMANDS = {
    "list": _list,
    "compact": _compact,
    "tokens": _tokens,
    "invitations": _invitations,
    "delete": _delete,
    "backup": _backup,
    "restore": _restore,
    "purge": _purge,
    "audit": _audit,
}
