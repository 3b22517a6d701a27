"""Tests of access.oidc: the role of an OIDC identity from the e-mail allow-list."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from access.accounts import allow_email
from access.oidc import identity_role, role_for_identity
from access.settings import AccessSettings
from access.signin import SignInFailure
from tests.access.support import ROOT

ALLOWED = {"li.na@example.org": "analyst", "zhao.min@example.org": "researcher"}


def test_allowed_and_verified_gets_its_role() -> None:
    assert role_for_identity("li.na@example.org", True, allowed=ALLOWED) == "analyst"
    assert role_for_identity(" Zhao.Min@Example.ORG", True, allowed=ALLOWED) == "researcher"


@pytest.mark.parametrize("verified", [False, None, "true", 1])
def test_unverified_addresses_are_refused(verified: object) -> None:
    assert role_for_identity("li.na@example.org", verified, allowed=ALLOWED) == SignInFailure(
        "unverified",
        "The identity provider has not verified the e-mail address li.na@example.org. Verify "
        "it with the provider, then sign in again.",
    )


def test_verification_can_be_waived_by_setting() -> None:
    assert role_for_identity("li.na@example.org", None, allowed=ALLOWED,
                             require_verified=False) == "analyst"


def test_addresses_off_the_list_are_refused() -> None:
    assert role_for_identity("eve@example.org", True, allowed=ALLOWED) == SignInFailure(
        "not_allowed",
        "eve@example.org is not allowed to use the staff pages. Ask an administrator to add "
        "it: python -m access allow-email eve@example.org --role analyst",
    )


@pytest.mark.parametrize("email", [None, "", "   ", 42, "not-an-address"])
def test_missing_or_bad_addresses_are_refused(email: object) -> None:
    result = role_for_identity(email, True, allowed=ALLOWED)
    assert isinstance(result, SignInFailure) and result.reason == "not_allowed"


def test_identity_role_reads_the_accounts_file(
    make_settings: Callable[..., AccessSettings],
) -> None:
    s = make_settings()
    assert identity_role("li.na@example.org", True, settings=s).reason == "not_allowed"  # type: ignore[union-attr]
    allow_email("li.na@example.org", role="researcher", settings=s)
    assert identity_role("li.na@example.org", True, settings=s) == "researcher"
    lax = make_settings(oidc_require_verified=False)
    assert identity_role("li.na@example.org", None, settings=lax) == "researcher"


def test_secrets_example_has_the_auth_section_and_no_secret() -> None:
    import tomllib

    text = (ROOT / ".streamlit" / "secrets.example.toml").read_text("utf-8")
    auth = tomllib.loads(text)["auth"]
    assert set(auth) >= {"redirect_uri", "cookie_secret", "client_id", "client_secret",
                         "server_metadata_url"}
    assert auth["cookie_secret"].startswith("REPLACE-")
    assert auth["client_secret"].startswith("REPLACE-")
    ignored = (ROOT / ".gitignore").read_text("utf-8").splitlines()
    assert ".streamlit/secrets.toml" in ignored and "config/users.toml" in ignored
