"""Accounts, roles, login with lockout and TOTP, and the token issuer."""
