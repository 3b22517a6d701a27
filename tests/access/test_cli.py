"""Tests of ``python -m access``: real subprocesses for exit codes, messages and passwords read
from standard input; in-process runs (with getpass replaced) for the terminal prompts."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import access.cli
from access.settings import AccessSettings
from access.signin import Session, authenticate
from tests.access.support import CHEAP_ARGON2, GOOD_PASSWORD, PYTHON, ROOT

NEW_PASSWORD = "a brand new passphrase"  # noqa: S105 - a test password


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "access", *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
        text=True, timeout=120, check=False,
        stdin=subprocess.DEVNULL if stdin is None else None,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.endswith("\n")
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr[len("error: "):-1]


def settings_of(tmp_path: Path) -> AccessSettings:
    return AccessSettings(data_dir=tmp_path / "data", **CHEAP_ARGON2)


def test_add_user_from_stdin_then_sign_in(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run(cli_env, "add-user", "Wang.Li", "--role", "admin", "--name", "王丽",
                 "--password-stdin", stdin=GOOD_PASSWORD + "\n")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "Added account 'wang.li' (admin).\n", ""
    )
    s = settings_of(tmp_path)
    assert GOOD_PASSWORD.encode() not in s.accounts_path.read_bytes()
    session = authenticate("wang.li", GOOD_PASSWORD, settings=s)
    assert isinstance(session, Session) and session.name == "王丽"


def test_password_from_stdin_keeps_everything_but_the_line_end(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    password = "  spaces count too  "  # noqa: S105 - a test password
    assert run(cli_env, "add-user", "li.na", "--role", "analyst", "--password-stdin",
               stdin=password + "\n").returncode == 0
    s = settings_of(tmp_path)
    assert isinstance(authenticate("li.na", password, settings=s), Session)
    assert not isinstance(authenticate("li.na", password.strip(), settings=s), Session)


def test_weak_password_is_refused_with_the_policy_message(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = run(cli_env, "add-user", "wang.li", "--role", "admin", "--password-stdin",
                 stdin="tiger123\n")
    assert one_line_error(result) == (
        "The password has 8 characters; it needs at least 12. Use a longer one, e.g. four or "
        "more unrelated words. The password is on the list of the most common passwords. "
        "Choose one that is hard to guess, e.g. four or more unrelated words."
    )
    assert "tiger123" not in result.stderr + result.stdout
    assert not settings_of(tmp_path).accounts_path.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: COMMAND. Run 'python -m access --help' for "
             "usage."),
        (("add-user", "wang.li"), "the following arguments are required: --role. Run "
                                  "'python -m access add-user --help' for usage."),
        (("add-user", "wang.li", "--role", "boss"),
         "argument --role: invalid choice: 'boss' (choose from 'analyst', 'researcher', "
         "'admin'). Run 'python -m access add-user --help' for usage."),
        (("list", "--all"), "unrecognized arguments: --all. Run 'python -m access --help' for "
                            "usage."),
        (("add-user", "Wang Li", "--role", "admin", "--password-stdin"),
         "The username 'Wang Li' is not allowed: use 2 to 32 characters: lower-case letters "
         "a-z, digits, '.', '_' or '-', starting with a letter (e.g. 'wang.li')."),
        (("set-password", "nobody", "--password-stdin"),
         "There is no account 'nobody'. Check the name with: python -m access list"),
        (("disable", "nobody"),
         "There is no account 'nobody'. Check the name with: python -m access list"),
        (("enable", "nobody"),
         "There is no account 'nobody'. Check the name with: python -m access list"),
        (("unlock", "nobody"),
         "There is no account 'nobody'. Check the name with: python -m access list"),
        (("revoke-email", "li.na@example.org"),
         "The e-mail address 'li.na@example.org' is not on the allow-list. See the list with: "
         "python -m access list"),
        (("audit", "--limit", "0"), "--limit must be at least 1. Give e.g. --limit 50."),
    ],
)
def test_mistakes_give_one_line_and_status_2(
    cli_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    assert one_line_error(run(cli_env, *args, stdin=GOOD_PASSWORD + "\n")) == message


def test_unknown_command(cli_env: dict[str, str]) -> None:
    message = one_line_error(run(cli_env, "frob"))
    assert message.startswith("argument COMMAND: invalid choice: 'frob' (choose from ")
    assert message.endswith("Run 'python -m access --help' for usage.")


def test_without_a_terminal_the_password_must_come_from_stdin(cli_env: dict[str, str]) -> None:
    assert one_line_error(run(cli_env, "add-user", "wang.li", "--role", "admin")) == (
        "there is no terminal to read the password from. Use --password-stdin and pipe the "
        "password on one line."
    )
    assert one_line_error(
        run(cli_env, "add-user", "wang.li", "--role", "admin", "--password-stdin", stdin="")
    ).startswith("no password on standard input. Pipe one line, e.g. ")


def test_duplicate_add_user(cli_env: dict[str, str]) -> None:
    args = ("add-user", "wang.li", "--role", "admin", "--password-stdin")
    assert run(cli_env, *args, stdin=GOOD_PASSWORD).returncode == 0
    assert one_line_error(run(cli_env, *args, stdin=GOOD_PASSWORD)) == (
        "An account 'wang.li' already exists. Choose another username, or set its password "
        "with: python -m access set-password wang.li"
    )


def test_bad_setting_in_the_environment(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, SURVEY_ACCESS_LOCKOUT_SECONDS="soon")
    assert one_line_error(run(env, "list")) == (
        "Environment variable SURVEY_ACCESS_LOCKOUT_SECONDS must be a number; got 'soon'. "
        "Give e.g. SURVEY_ACCESS_LOCKOUT_SECONDS=900."
    )


def test_broken_accounts_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = settings_of(tmp_path).accounts_path
    path.parent.mkdir(parents=True)
    path.write_text("[accounts.x1\n", "utf-8")
    message = one_line_error(run(cli_env, "list"))
    assert message.startswith(f"Accounts file {path} is not valid TOML: ")
    assert message.endswith("Fix it by hand, or restore it from a backup.")


def test_life_of_an_account(cli_env: dict[str, str], tmp_path: Path) -> None:
    s = settings_of(tmp_path)
    fresh = run(cli_env, "list")
    assert (fresh.returncode, fresh.stdout) == (
        0,
        "No accounts. Create the first administrator with:\n"
        "  python -m access add-user USERNAME --role admin\n",
    )
    assert run(cli_env, "add-user", "wang.li", "--role", "researcher", "--name", "Wang Li",
               "--password-stdin", stdin=GOOD_PASSWORD).returncode == 0

    result = run(cli_env, "set-password", "wang.li", "--password-stdin", stdin=NEW_PASSWORD)
    assert result.stdout == "Set a new password for 'wang.li'; its open sessions have ended.\n"
    assert isinstance(authenticate("wang.li", NEW_PASSWORD, settings=s), Session)

    assert run(cli_env, "disable", "wang.li").stdout == (
        "Disabled 'wang.li'; its open sessions have ended.\n"
    )
    assert authenticate("wang.li", NEW_PASSWORD, settings=s).reason == "disabled"  # type: ignore[union-attr]
    listing = run(cli_env, "list").stdout.splitlines()
    assert listing[0].split() == ["USERNAME", "ROLE", "STATUS", "PASSWORD", "SET", "NAME"]
    assert listing[1].split()[:3] == ["wang.li", "researcher", "disabled"]
    assert listing[1].endswith("  Wang Li")
    assert run(cli_env, "enable", "wang.li").stdout == "Enabled 'wang.li'.\n"

    t = dt.datetime.now(dt.UTC)
    # On the real clock (list shows the lock), honouring each retry_after, until locked; the
    # disabled sign-in above already counted one failure.
    failure = authenticate("wang.li", "wrong wrong wrong", now=t, settings=s)
    while failure.reason != "locked":  # type: ignore[union-attr]
        t += dt.timedelta(seconds=failure.retry_after)  # type: ignore[union-attr]
        failure = authenticate("wang.li", "wrong wrong wrong", now=t, settings=s)
    assert re.search(r"\nwang\.li +researcher +active, locked 1[56] min ",
                     run(cli_env, "list").stdout)
    assert run(cli_env, "unlock", "wang.li").stdout == "Unlocked 'wang.li'.\n"
    assert run(cli_env, "unlock", "wang.li").stdout == (
        "'wang.li' was not locked; its failure count is reset.\n"
    )
    assert isinstance(authenticate("wang.li", NEW_PASSWORD, settings=s), Session)

    assert run(cli_env, "allow-email", "Li.Na@example.org", "--role", "analyst").stdout == (
        "li.na@example.org may sign in with OIDC as analyst.\n"
    )
    assert run(cli_env, "list").stdout.endswith(
        "\nE-mail addresses allowed to sign in with OIDC:\n  li.na@example.org  analyst\n"
    )
    assert run(cli_env, "revoke-email", "li.na@example.org").stdout == (
        "li.na@example.org is off the OIDC allow-list.\n"
    )

    audit = run(cli_env, "audit", "--limit", "100")
    assert audit.returncode == 0
    kinds = [line.split()[1] for line in audit.stdout.splitlines()]
    assert kinds[:3] == ["account_added", "password_changed", "signin_succeeded"]
    assert {"account_disabled", "account_enabled", "account_locked", "account_unlocked",
            "email_allowed", "email_revoked"} <= set(kinds)
    assert "actor=cli:" in audit.stdout
    everything = audit.stdout + listing[1] + run(cli_env, "list").stdout
    assert GOOD_PASSWORD not in everything and NEW_PASSWORD not in everything


# --- the terminal prompts (getpass), in-process ----------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Prompts:
    """Answers for getpass, in order, and the prompts it showed."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.shown: list[str] = []

    def getpass(self, prompt: str = "Password: ", stream: object = None) -> str:
        self.shown.append(prompt)
        return self.answers.pop(0)


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Prompts]:
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path / "data"))
    for key, value in CHEAP_ARGON2.items():
        monkeypatch.setenv("SURVEY_ACCESS_" + key.upper(), str(value))
    fake = Prompts()
    monkeypatch.setattr(access.cli.getpass, "getpass", fake.getpass)
    yield fake
    assert not fake.answers, "every prepared answer was asked for"


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = access.cli.main(list(args), stdin=Terminal(), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_password_is_typed_twice(prompts: Prompts, tmp_path: Path) -> None:
    prompts.answers += [GOOD_PASSWORD, GOOD_PASSWORD]
    assert cli("add-user", "wang.li", "--role", "admin") == (
        0, "Added account 'wang.li' (admin).\n", ""
    )
    assert prompts.shown == ["New password: ", "Repeat the new password: "]
    assert isinstance(authenticate("wang.li", GOOD_PASSWORD, settings=settings_of(tmp_path)),
                      Session)


def test_two_different_passwords_are_refused(prompts: Prompts, tmp_path: Path) -> None:
    prompts.answers += [GOOD_PASSWORD, GOOD_PASSWORD + "!"]
    assert cli("add-user", "wang.li", "--role", "admin") == (
        2, "",
        "error: the two passwords differ. Run the command again and type the same password "
        "twice.\n",
    )
    assert not settings_of(tmp_path).accounts_path.exists()


def test_weak_password_is_refused_before_the_second_prompt(prompts: Prompts) -> None:
    prompts.answers += ["wang.li"]
    code, out, err = cli("add-user", "wang.li", "--role", "admin")
    assert (code, out) == (2, "")
    assert err == (
        "error: The password has 7 characters; it needs at least 12. Use a longer one, e.g. "
        "four or more unrelated words. The password is the same as the username. Choose one "
        "that has nothing to do with the username.\n"
    )


def test_set_password_prompts(prompts: Prompts, tmp_path: Path) -> None:
    prompts.answers += [GOOD_PASSWORD, GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD]
    assert cli("add-user", "wang.li", "--role", "admin")[0] == 0
    assert cli("set-password", "wang.li")[0] == 0
    assert isinstance(authenticate("wang.li", NEW_PASSWORD, settings=settings_of(tmp_path)),
                      Session)
