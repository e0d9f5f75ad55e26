"""Project config, environments and overlays (spec-format §12): the CLI's project context.

Pure: reads only the config, spec and overlay files (overlays and the default spec confined
under the project root); never imports user code, touches a database or the network.
"""

from .config import (
    CONFIG_CANDIDATES,
    DEFAULT_ENVIRONMENT,
    PROJECT_CONFIG_ENV,
    EnvironmentConfig,
    ProjectConfig,
    ProjectError,
    find_config,
    load_project,
    parse_config,
    read_config,
)
from .environments import ENV_VAR, apply_environment_defaults, apply_overlays, merge_under, select_environment
from .resolve import (
    EnvironmentPolicyError,
    Resolution,
    SpecPathMissing,
    environment_policy_errors,
    read_spec,
    resolve_document,
    resolve_spec,
    spec_source,
)

__all__ = [
    "CONFIG_CANDIDATES",
    "DEFAULT_ENVIRONMENT",
    "ENV_VAR",
    "PROJECT_CONFIG_ENV",
    "EnvironmentConfig",
    "EnvironmentPolicyError",
    "ProjectConfig",
    "ProjectError",
    "Resolution",
    "SpecPathMissing",
    "apply_environment_defaults",
    "apply_overlays",
    "environment_policy_errors",
    "find_config",
    "load_project",
    "merge_under",
    "parse_config",
    "read_config",
    "read_spec",
    "resolve_document",
    "resolve_spec",
    "select_environment",
    "spec_source",
]
