"""Submitted responses: validation, the Parquet store, invitations, drafts and the audit log."""

from responses.config import SETTINGS, Config, load_config
from responses.errors import (
    ConfigError,
    ConflictError,
    InvitationError,
    ResponseError,
    StoreError,
    StoreWarning,
)
from responses.record import ResponseRecord, classify_device, hash_token, new_response_id
from responses.state import SQLiteState, StateStore
from responses.store import ParquetResponseStore, ResponseStore, SubmitReceipt

__all__ = [
    "SETTINGS",
    "Config",
    "ConfigError",
    "ConflictError",
    "InvitationError",
    "ParquetResponseStore",
    "ResponseError",
    "ResponseRecord",
    "ResponseStore",
    "SQLiteState",
    "StateStore",
    "StoreError",
    "StoreWarning",
    "SubmitReceipt",
    "classify_device",
    "hash_token",
    "load_config",
    "new_response_id",
]
