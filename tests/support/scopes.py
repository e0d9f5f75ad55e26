"""The built-in roles and their scopes as the contract states them (§3.3), independent of the code."""

from __future__ import annotations

CONTRACT_SCOPES = {
    "admin": {"*"},
    "operator": {
        "runs:read",
        "runs:write",
        "specs:read",
        "human:read",
        "audit:read",
        "credentials:read",
        "policies:read",
        "policies:write",
    },
    "reviewer": {"runs:read", "human:read", "human:write", "audit:read"},
    "service": {
        "runs:read",
        "runs:write",
        "specs:read",
        "human:read",
        "human:write",
        "audit:read",
        "audit:write",
        "credentials:read",
        "policies:read",
    },
    "viewer": {"runs:read", "specs:read", "human:read", "audit:read"},
}
