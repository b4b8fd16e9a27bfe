"""HR runs the programme from the browser: the roster, settings that protect, the audit log.
Pages for HR only; every write goes through the same services as the management commands."""
