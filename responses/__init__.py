"""Submitted responses: validation, the Parquet store, invitations, drafts and the audit log."""
