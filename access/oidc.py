"""Staff sign-in through an identity provider (OIDC, Streamlit's ``st.login``) instead of local
passwords: which role an identity gets.

Streamlit signs the person in with the provider and keeps its own cookie; the app then reads
``st.user`` (``is_logged_in``, ``email``, ``email_verified``, ``name`` ...). Roles are not taken
from the provider: an e-mail address gets a role only if it is on the allow-list in the
accounts file::

    [allowed_emails]
    "li.na@example.org" = "analyst"
    "zhao.min@example.org" = "researcher"

managed with ``python -m access allow-email EMAIL --role ROLE`` and ``revoke-email EMAIL``.
Configuration of the provider (``.streamlit/secrets.toml``, git-ignored; see
``.streamlit/secrets.example.toml`` and ``access/README.md``)::

    [auth]
    redirect_uri = "https://survey.example.org/oauth2callback"
    cookie_secret = "<a long random string>"
    client_id = "<from the provider>"
    client_secret = "<from the provider>"
    server_metadata_url = "https://accounts.example.org/.well-known/openid-configuration"

In the app::

    if not st.user.is_logged_in:
        st.button("Sign in", on_click=st.login)
    else:
        role = identity_role(st.user.get("email"), st.user.get("email_verified"))
        if isinstance(role, SignInFailure):
            st.error(role.message)
        elif can(role, "view_dashboards"): ...
"""

from __future__ import annotations

from collections.abc import Mapping

from access.accounts import Role, check_email, read_accounts
from access.errors import AccountError
from access.settings import AccessSettings, load_settings
from access.signin import SignInFailure

__all__ = ["identity_role", "role_for_identity"]


def role_for_identity(
    email: object,
    email_verified: object,
    *,
    allowed: Mapping[str, Role],
    require_verified: bool = True,
) -> Role | SignInFailure:
    """The role of an OIDC identity, from an e-mail allow-list (a pure function).

    Parameters
    ----------
    email
        The ``email`` claim (``st.user.get("email")``); may be missing (``None``).
    email_verified
        The ``email_verified`` claim. Only the boolean ``True`` counts as verified (a string
        ``"true"`` does not: the claim is a JSON boolean).
    allowed
        E-mail address (lower case) -> role, e.g. ``load_accounts().allowed_emails``.
    require_verified
        Refuse identities whose provider does not vouch for the address (setting
        ``oidc_require_verified``). Turn off only for a provider that never sends the claim and
        only admits addresses it owns.

    Returns
    -------
    Role or SignInFailure
        The role, or a failure with reason ``"unverified"`` or ``"not_allowed"``.
    """
    if not isinstance(email, str) or not email.strip():
        return SignInFailure(
            "not_allowed",
            "The identity provider did not give an e-mail address, so no role can be given. "
            "Ask an administrator to check the provider's scopes (openid email).",
        )
    try:
        address = check_email(email)
    except AccountError:
        return SignInFailure(
            "not_allowed",
            "The identity provider gave an address that is not a valid e-mail address.",
        )
    if require_verified and email_verified is not True:
        return SignInFailure(
            "unverified",
            f"The identity provider has not verified the e-mail address {address}. Verify it "
            "with the provider, then sign in again.",
        )
    role = allowed.get(address)
    if role is None:
        return SignInFailure(
            "not_allowed",
            f"{address} is not allowed to use the staff pages. Ask an administrator to add it: "
            f"python -m access allow-email {address} --role analyst",
        )
    return role


def identity_role(
    email: object,
    email_verified: object,
    *,
    settings: AccessSettings | None = None,
) -> Role | SignInFailure:
    """:func:`role_for_identity` with the allow-list read from the accounts file and
    ``require_verified`` from the settings."""
    settings = settings or load_settings()
    book = read_accounts(settings.accounts_path)
    return role_for_identity(
        email,
        email_verified,
        allowed=book.allowed_emails,
        require_verified=settings.oidc_require_verified,
    )
