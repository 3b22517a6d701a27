"""Secrets live only in git-ignored files with a committed example, and the repository holds
no secret, key, password hash or personal data; the static security checks are in force."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from questionnaires.publishing import MAX_UPLOAD_BYTES
from tests.security.conftest import ROOT

#: Files that must never be committed, and that git must ignore wherever the data folder is
#: kept inside the checkout.
MUST_BE_IGNORED = [
    ".streamlit/secrets.toml",
    "config/users.toml",
    "data/config/users.toml",
    "data/state.sqlite3",
    "data/state/access.sqlite",
    "data/responses/cfl/2026.1/province=11/AAAAAAAAAAAAAAAAAAAAAA.parquet",
    "data/questionnaires/uploaded.yaml",
    "data/tombstones/AAAAAAAAAAAAAAAAAAAAAA",
    "data/pre-restore-20260501T000000Z/responses/x.parquet",
]
#: Committed examples of the secret files (placeholders only).
EXAMPLES = [".streamlit/secrets.example.toml", "config/users.example.toml"]

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Argon2 password hash": re.compile(
        r"\$argon2id?\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{32,}"
    ),
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "secret in a TOML/INI assignment": re.compile(
        r"^\s*(cookie_secret|client_secret|secret_key|api_key)\s*=\s*\"(?!REPLACE|<)[^\"]{12,}\"",
        re.MULTILINE,
    ),
    "Chinese mobile number": re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"),
    "Chinese resident ID number": re.compile(r"(?<![0-9])[1-8][0-9]{16}[0-9X](?![0-9])"),
}
#: Where a pattern above is expected: reference data with long numbers (census counts) and
#: documents quoting the patterns themselves.
ALLOWED = {
    "Chinese mobile number": ("data/reference/", "tests/reference/", "access/data/"),
    "Chinese resident ID number": ("data/reference/", "tests/reference/", "access/data/"),
}
def _made_up(number: str) -> bool:
    """Numbers that are obviously invented for a test: a run of zeros or 12345678."""
    return "0000" in number or "12345678" in number


FORBIDDEN_NAMES = re.compile(
    r"(^|/)(\.env|id_rsa|id_ed25519|secrets\.toml|users\.toml|[^/]*\.(pem|key|p12|pfx|sqlite3?|db))$"
)


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in out.split("\0") if name]


def test_secret_files_are_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", *MUST_BE_IGNORED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    ignored = {line.split("\t")[-1] for line in result.stdout.splitlines()}
    assert ignored == set(MUST_BE_IGNORED), set(MUST_BE_IGNORED) - ignored


def test_each_secret_file_has_a_committed_example_with_placeholders_only():
    files = set(tracked_files())
    for example in EXAMPLES:
        assert example in files
        text = (ROOT / example).read_text(encoding="utf-8")
        tomllib.loads(text)  # a valid template
        for name, pattern in SECRET_PATTERNS.items():
            assert not pattern.search(text), f"{example} holds a {name}"


def test_no_tracked_file_holds_a_secret_or_personal_data():
    files = tracked_files()
    assert len(files) > 50
    found = []
    for name in files:
        if FORBIDDEN_NAMES.search(name) and not name.endswith(".example.toml"):
            found.append(f"{name}: a secret or data file")
            continue
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for what, pattern in SECRET_PATTERNS.items():
            if name.startswith(ALLOWED.get(what, ())) or name == "tests/security/test_secrets.py":
                continue
            for match in pattern.finditer(text):
                if what in ALLOWED and _made_up(match.group(0)):
                    continue
                found.append(f"{name}: {what} ({match.group(0)[:24]}...)")
                break
    assert found == []


def test_no_response_or_state_data_is_tracked():
    data = [
        n for n in tracked_files() if n.startswith("data/") and not n.startswith("data/reference/")
    ]
    assert data == []
    assert not [n for n in tracked_files() if n.endswith(".parquet") and "reference" not in n]


def test_ruff_runs_with_the_security_rules():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]  # flake8-bandit, run by tests/test_static.py
    for pattern, ignored in lint.get("per-file-ignores", {}).items():
        if not pattern.startswith(("tests/", "bench/")):
            assert not [r for r in ignored if r.startswith("S")], pattern


def test_ci_reports_a_dependency_audit():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip_audit" in script and "requirements.txt" in script


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        (("server", "maxUploadSize"), 5),
        (("server", "enableXsrfProtection"), True),
        (("server", "enableCORS"), True),
        (("client", "showErrorDetails"), "none"),
        (("browser", "gatherUsageStats"), False),
    ],
)
def test_the_streamlit_configuration_is_hardened(key, wanted):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    section, name = key
    assert config[section][name] == wanted


def test_the_upload_limit_of_the_server_is_above_the_publish_core_check():
    """Streamlit's limit is in MiB; the publishing core refuses more than 5,000,000 bytes,
    so a file between the two gets the core's clear message rather than Streamlit's."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] * 1024 * 1024 >= MAX_UPLOAD_BYTES
    assert config["server"]["maxUploadSize"] <= 10  # not Streamlit's default of 200 MiB
