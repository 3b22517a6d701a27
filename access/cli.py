"""The administration command: ``python -m access COMMAND ...``.

Commands::

    add-user USERNAME --role ROLE [--name NAME] [--password-stdin]
    set-password USERNAME [--password-stdin]
    disable USERNAME
    enable USERNAME
    unlock USERNAME
    list
    allow-email EMAIL --role ROLE
    revoke-email EMAIL
    audit [--limit N]

Passwords are read from the terminal with ``getpass`` (typed twice, never echoed) or, with
``--password-stdin``, as one line from standard input (for scripts). A mistake (bad flag,
unknown user, weak password ...) prints one line, ``error: <what> <how to fix it>``, to standard
error and exits with status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from access.accounts import (
    ROLES,
    add_user,
    allow_email,
    check_username,
    load_accounts,
    revoke_email,
    set_disabled,
    set_password,
)
from access.errors import AccessError
from access.passwords import check_password
from access.settings import AccessSettings, load_settings
from access.signin import lock_remaining, unlock
from access.state import AccessState

__all__ = ["main"]

PROG = "python -m access"


class CommandError(Exception):
    """A mistake on the command line: the message is printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message}. Run '{self.prog} --help' for usage.")


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Manage the staff accounts of the survey platform (see access/README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def password_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--password-stdin", action="store_true",
            help="read the password as one line from standard input instead of the terminal",
        )

    p = sub.add_parser("add-user", help="create an account (there is no default account)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", help="display name (default: the username)")
    password_flag(p)

    p = sub.add_parser("set-password", help="give an account a new password")
    p.add_argument("username")
    password_flag(p)

    for name, text in (("disable", "disable an account (its sessions end)"),
                       ("enable", "enable a disabled account"),
                       ("unlock", "lift a lock-out after failed sign-ins")):
        sub.add_parser(name, help=text).add_argument("username")

    sub.add_parser("list", help="show the accounts and the OIDC allow-list")

    p = sub.add_parser("allow-email", help="allow an e-mail address to sign in with OIDC")
    p.add_argument("email")
    p.add_argument("--role", required=True, choices=ROLES)

    sub.add_parser("revoke-email", help="take an e-mail address off the OIDC allow-list") \
        .add_argument("email")

    p = sub.add_parser("audit", help="show the audit trail (newest last)")
    p.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")
    return parser


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _read_password(
    username: str, *, from_stdin: bool, stdin: TextIO, settings: AccessSettings
) -> str:
    if from_stdin:
        line = stdin.readline()
        if not line:
            raise CommandError(
                "no password on standard input. Pipe one line, e.g. "
                "printf '%s\\n' \"$PASSWORD\" | python -m access ... --password-stdin"
            )
        return line[:-1] if line.endswith("\n") else line
    if not stdin.isatty():
        raise CommandError(
            "there is no terminal to read the password from. Use --password-stdin and pipe the "
            "password on one line."
        )
    try:
        first = getpass.getpass("New password: ")
        check_password(first, username=username, min_length=settings.password_min_length)
        second = getpass.getpass("Repeat the new password: ")
    except EOFError:
        raise CommandError("no password was typed. Run the command again.") from None
    if first != second:
        raise CommandError(
            "the two passwords differ. Run the command again and type the same password twice."
        )
    return first


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _list(settings: AccessSettings, out: TextIO) -> None:
    book = load_accounts(settings=settings)
    if not book.accounts:
        out.write(
            "No accounts. Create the first administrator with:\n"
            f"  {PROG} add-user USERNAME --role admin\n"
        )
    else:
        rows = [("USERNAME", "ROLE", "STATUS", "PASSWORD SET", "NAME")]
        for username in sorted(book.accounts):
            a = book.accounts[username]
            locked = lock_remaining(username, settings=settings)
            status = "disabled" if a.disabled else "active"
            if locked > 0:
                status += f", locked {int(locked // 60) + 1} min"
            rows.append((a.username, a.role, status, _when(a.password_changed), a.name))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            out.write("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)))
            out.write("  " + r[4] + "\n")
    if book.allowed_emails:
        out.write("\nE-mail addresses allowed to sign in with OIDC:\n")
        width = max(len(e) for e in book.allowed_emails)
        for email in sorted(book.allowed_emails):
            out.write(f"  {email.ljust(width)}  {book.allowed_emails[email]}\n")


def _run(args: argparse.Namespace, settings: AccessSettings, stdin: TextIO, out: TextIO) -> None:
    actor = _actor()
    command = args.command
    if command == "add-user":
        user = check_username(args.username)
        password = _read_password(user, from_stdin=args.password_stdin, stdin=stdin,
                                  settings=settings)
        account = add_user(user, password, role=args.role, name=args.name, actor=actor,
                           settings=settings)
        out.write(f"Added account '{account.username}' ({account.role}).\n")
    elif command == "set-password":
        user = check_username(args.username)
        if user not in load_accounts(settings=settings).accounts:  # before asking for it
            raise AccessError(
                f"There is no account '{user}'. Check the name with: {PROG} list"
            )
        password = _read_password(user, from_stdin=args.password_stdin, stdin=stdin,
                                  settings=settings)
        set_password(user, password, actor=actor, settings=settings)
        out.write(f"Set a new password for '{user}'; its open sessions have ended.\n")
    elif command in ("disable", "enable"):
        account = set_disabled(args.username, command == "disable", actor=actor,
                               settings=settings)
        if command == "disable":
            out.write(f"Disabled '{account.username}'; its open sessions have ended.\n")
        else:
            out.write(f"Enabled '{account.username}'.\n")
    elif command == "unlock":
        user = check_username(args.username)
        was_locked = unlock(user, actor=actor, settings=settings)
        out.write(
            f"Unlocked '{user}'.\n" if was_locked
            else f"'{user}' was not locked; its failure count is reset.\n"
        )
    elif command == "list":
        _list(settings, out)
    elif command == "allow-email":
        allow_email(args.email, role=args.role, actor=actor, settings=settings)
        out.write(f"{args.email.strip().lower()} may sign in with OIDC as {args.role}.\n")
    elif command == "revoke-email":
        revoke_email(args.email, actor=actor, settings=settings)
        out.write(f"{args.email.strip().lower()} is off the OIDC allow-list.\n")
    elif command == "audit":
        if args.limit < 1:
            raise CommandError("--limit must be at least 1. Give e.g. --limit 50.")
        if args.limit > 1_000_000:
            raise CommandError("--limit must be at most 1,000,000. Give e.g. --limit 50.")
        state = AccessState(settings.state_file, timeout=settings.lock_timeout_seconds)
        for e in state.audit_events(limit=args.limit):
            who = e.username or "-"
            out.write(
                f"{e.at.isoformat(timespec='seconds')}  {e.event:<17}  {who:<16}  "
                f"actor={e.actor or '-'}  client={e.client or '-'}  {e.detail}\n"
            )


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command; returns the exit status (0 done, 2 a mistake to fix)."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
        settings = load_settings()
        _run(args, settings, stdin, out)
    except (CommandError, AccessError) as exc:
        text = " ".join(str(exc).split("\n"))
        # other control characters (a vertical tab, a terminal escape) are shown escaped
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        err.write("error: " + text + "\n")
        return 2
    except KeyboardInterrupt:
        err.write("error: interrupted; nothing more was changed.\n")
        return 130
    return 0
