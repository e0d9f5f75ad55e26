"""Pure spec compiler: load, migrate, validate and compile YAML/JSON workflow specs to plans.

Importing this package has no side effects; it never imports user code, touches a database or
the network. Files are read only by :func:`load_document` (spec files) and
:func:`compile_document` (skill sources), both confined under an explicit spec root.
"""

from .bounds import DEFAULT_BOUNDS, SpecBounds
from .bundles import canonical_json, sign_bundle, verify_bundle
from .compiler import compile_document, compile_summary, explain_document, validate_document
from .conditions import evaluate_condition
from .errors import (
    Diagnostic,
    SpecError,
    SpecInvalid,
    SpecNotFound,
    SpecParseError,
    SpecPathConfined,
    SpecVersionError,
    ValidationReport,
)
from .governance import module_allowed
from .loading import deep_merge, load_document
from .migrate import migrate_document
from .policy import EnvironmentPolicy, enforce_environment_policy, policy_report

__all__ = [
    "DEFAULT_BOUNDS",
    "Diagnostic",
    "EnvironmentPolicy",
    "SpecBounds",
    "SpecError",
    "SpecInvalid",
    "SpecNotFound",
    "SpecParseError",
    "SpecPathConfined",
    "SpecVersionError",
    "ValidationReport",
    "canonical_json",
    "compile_document",
    "compile_summary",
    "deep_merge",
    "enforce_environment_policy",
    "evaluate_condition",
    "explain_document",
    "load_document",
    "migrate_document",
    "module_allowed",
    "policy_report",
    "sign_bundle",
    "validate_document",
    "verify_bundle",
]
