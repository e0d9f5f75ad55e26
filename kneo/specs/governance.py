"""Static governance: import safety (allow-list + deny-list), tool permissions, human approval."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .errors import Diagnostic, error, warning
from .walk import agent_entries, has_human_step, tool_selection, workflow_entries

ALLOWED_MODULES_ENV = "KNEO_SERV_ALLOWED_MODULES"
DENIED_SYMBOLS = frozenset({"eval", "exec", "open", "compile", "__import__", "breakpoint"})
DENIED_PREFIXES = (
    "builtins.",
    "importlib.",
    "os.",
    "pathlib.",
    "shutil.",
    "socket.",
    "subprocess.",
    "sys.",
    "code.",
    "codeop.",
    "ctypes.",
    "fcntl.",
    "marshal.",
    "mmap.",
    "multiprocessing.",
    "nt.",
    "pdb.",
    "pickle.",
    "platform.",
    "posix.",
    "pty.",
    "runpy.",
    "signal.",
    "tty.",
)
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
PRIVILEGED_CODES = frozenset(
    {
        "E_UNSAFE_TOOL_IMPORT",
        "E_UNSAFE_FUNCTION_IMPORT",
        "W_TOOL_POLICY_UNRESTRICTED",
        "W_TOOL_NETWORK_UNRESTRICTED",
        "W_TOOL_SHELL_ALLOWED",
        "W_TOOL_FILESYSTEM_WRITE_ALLOWED",
        "W_TOOL_FILESYSTEM_READ_ALLOWED",
    }
)


def normalise_prefixes(allowed_modules: Sequence[str]) -> tuple[str, ...]:
    """Clean allow-list entries (strip whitespace and trailing dots, drop empties)."""
    if isinstance(allowed_modules, str):
        allowed_modules = allowed_modules.split(",")
    return tuple(p.strip().strip(".") for p in allowed_modules if isinstance(p, str) and p.strip().strip("."))


def module_allowed(module: str, allowed_modules: Sequence[str]) -> bool:
    """Prefix match on dotted components: ``examples`` allows ``examples.x`` but not ``examples2``."""
    return any(module == p or module.startswith(p + ".") for p in normalise_prefixes(allowed_modules))


def implementation_problem(implementation: str, allowed_modules: Sequence[str]) -> str | None:
    """Why ``implementation`` may not be imported, or ``None`` when it is acceptable."""
    if implementation in DENIED_SYMBOLS or implementation.startswith(DENIED_PREFIXES):
        return f"'{implementation}' is a denied (unsafe) import target"
    if not _DOTTED.match(implementation):
        return f"'{implementation}' is not a dotted 'module.attribute' import path"
    module = implementation.rsplit(".", 1)[0]
    if not module_allowed(module, allowed_modules):
        return f"module '{module}' is not in {ALLOWED_MODULES_ENV}"
    return None


def import_diagnostics(spec: dict[str, Any], allowed_modules: Sequence[str]) -> list[Diagnostic]:
    """E_UNSAFE_TOOL_IMPORT / E_UNSAFE_FUNCTION_IMPORT for every refused implementation."""
    out: list[Diagnostic] = []
    tools = spec["tools"]
    for name in sorted(tools):
        impl = tools[name].get("implementation")
        problem = bool(impl) and implementation_problem(impl, allowed_modules)
        if problem:
            out.append(
                error(
                    "E_UNSAFE_TOOL_IMPORT",
                    f"Tool '{name}' implementation is not allowed: {problem}.",
                    f"tools.{name}.implementation",
                    f"Use a module listed in {ALLOWED_MODULES_ENV} and avoid unsafe modules.",
                )
            )
    functions = spec["components"]["functions"]
    for name in sorted(functions):
        problem = implementation_problem(functions[name]["implementation"], allowed_modules)
        if problem:
            out.append(
                error(
                    "E_UNSAFE_FUNCTION_IMPORT",
                    f"Function '{name}' implementation is not allowed: {problem}.",
                    f"components.functions.{name}.implementation",
                    f"Use a module listed in {ALLOWED_MODULES_ENV} and avoid unsafe modules.",
                )
            )
    return out


def permission_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """Tool-permission warnings for every agent with a non-empty tool selection."""
    out: list[Diagnostic] = []
    for path, _key, agent in agent_entries(spec):
        selection = tool_selection(agent)
        if selection is None:
            continue
        perms = selection.get("permissions")
        base = f"{path}.tools.permissions"
        if perms is None:
            out.append(
                warning(
                    "W_TOOL_POLICY_UNRESTRICTED",
                    "Tools are selected without an explicit permissions policy.",
                    base,
                    "Add tools.permissions with the capabilities the agent needs.",
                )
            )
            continue
        if perms.get("allow_network") and not perms.get("allowed_domains"):
            out.append(
                warning(
                    "W_TOOL_NETWORK_UNRESTRICTED",
                    "Network access is allowed without allowed_domains.",
                    f"{base}.allowed_domains",
                    "List the domains the tools may reach.",
                )
            )
        if perms.get("allow_shell"):
            out.append(
                warning(
                    "W_TOOL_SHELL_ALLOWED",
                    "Shell access is allowed for tools.",
                    f"{base}.allow_shell",
                    "Disable allow_shell unless it is required.",
                )
            )
        if perms.get("allow_filesystem_write"):
            out.append(
                warning(
                    "W_TOOL_FILESYSTEM_WRITE_ALLOWED",
                    "Filesystem write access is allowed for tools.",
                    f"{base}.allow_filesystem_write",
                    "Disable allow_filesystem_write if possible.",
                )
            )
        if perms.get("allow_filesystem_read"):
            out.append(
                warning(
                    "W_TOOL_FILESYSTEM_READ_ALLOWED",
                    "Filesystem read access is allowed for tools.",
                    f"{base}.allow_filesystem_read",
                    "Disable allow_filesystem_read if possible.",
                )
            )
    return out


def any_human_step(spec: dict[str, Any]) -> bool:
    """True when any workflow (root or component) has a human step, node or participant."""
    return any(has_human_step(wf) for _, _, wf in workflow_entries(spec))


def governance_diagnostics(spec: dict[str, Any], allowed_modules: Sequence[str]) -> list[Diagnostic]:
    """Imports, permissions, then W_HUMAN_APPROVAL_MISSING for a privileged surface without a human step."""
    out = import_diagnostics(spec, allowed_modules) + permission_diagnostics(spec)
    if any(d.code in PRIVILEGED_CODES for d in out) and not any_human_step(spec):
        out.append(
            warning(
                "W_HUMAN_APPROVAL_MISSING",
                "Privileged tools or imports are configured but no workflow contains a human approval step.",
                "workflow",
                "Add a human step (kind: human) to a workflow.",
            )
        )
    return out
