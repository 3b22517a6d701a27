"""Staff access: accounts, roles and permissions, password sign-in with throttling, sessions,
and the OIDC (``st.login``) alternative. Pure Python: never imports streamlit.

The sign-in sidebar calls :func:`authenticate`, :func:`validate` and :func:`sign_out`; pages
ask :func:`can` (or :meth:`Session.can`). ``python -m access`` manages the accounts.
See ``access/README.md``.
"""

from access.accounts import (
    ACTIONS,
    ROLES,
    Account,
    AccountBook,
    Action,
    Role,
    add_user,
    allow_email,
    can,
    get_account,
    list_accounts,
    load_accounts,
    revoke_email,
    set_disabled,
    set_password,
)
from access.errors import (
    AccessConfigError,
    AccessError,
    AccessWarning,
    AccountError,
    PasswordPolicyError,
)
from access.oidc import identity_role, role_for_identity
from access.settings import SETTINGS, AccessSettings, data_dir, load_settings
from access.signin import (
    Session,
    SessionEnded,
    SignInFailure,
    authenticate,
    lock_remaining,
    sign_out,
    unlock,
    validate,
)

__all__ = [
    "ACTIONS",
    "ROLES",
    "SETTINGS",
    "AccessConfigError",
    "AccessError",
    "AccessSettings",
    "AccessWarning",
    "Account",
    "AccountBook",
    "AccountError",
    "Action",
    "PasswordPolicyError",
    "Role",
    "Session",
    "SessionEnded",
    "SignInFailure",
    "add_user",
    "allow_email",
    "authenticate",
    "can",
    "data_dir",
    "get_account",
    "identity_role",
    "list_accounts",
    "load_accounts",
    "load_settings",
    "lock_remaining",
    "revoke_email",
    "role_for_identity",
    "set_disabled",
    "set_password",
    "sign_out",
    "unlock",
    "validate",
]
