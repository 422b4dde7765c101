"""The prompt registry: immutable versions, labels, rollback, diff and the audit trail."""
