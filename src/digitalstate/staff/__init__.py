"""Staff at a service node: their accounts, roles, sign-in and sessions (docs/staff.md)."""
