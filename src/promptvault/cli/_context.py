"""What every command shares: global options, settings, the project file and the backend.

The backend is chosen in one place, :func:`backend`: a local :class:`~promptvault.Vault` on the
configured database, or a :mod:`promptvault.client` talking to a server (remote mode, when
``--server`` / ``PROMPTVAULT_URL`` / the project file names one). Both offer the same method
names, so commands do not care which they hold. Nothing heavy is imported until a command
asks for the backend.

Where the database or server comes from, first match wins: command-line flag, environment
variable (``PROMPTVAULT_DATABASE_URL``, ``PROMPTVAULT_URL``), the nearest ``promptvault.toml``
(in the working directory or a parent), then the SQLite file under the home directory.
"""

from __future__ import annotations

import getpass
import os
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptvault.config import Settings

__all__ = [
    "PROJECT_FILE",
    "Project",
    "State",
    "actor",
    "backend",
    "bind_invocation",
    "find_project",
    "is_remote",
    "project_prompts_dir",
    "prompts_dir",
    "settings",
    "state",
    "unbind_invocation",
    "want_json",
]

PROJECT_FILE = "promptvault.toml"


@dataclass
class Project:
    """The settings a ``promptvault.toml`` gives, with paths made absolute."""

    path: Path
    database_url: str | None = None
    url: str | None = None
    prompts_dir: Path | None = None


@dataclass
class State:
    """Global options of one invocation, and the lazily opened backend."""

    db: str | None = None
    home: Path | None = None
    server: str | None = None
    api_key: str | None = None
    json: bool = False
    debug: bool = False
    actor: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _backend: Any = field(default=None, repr=False)
    _project: Project | bool | None = field(default=False, repr=False)

    def close(self) -> None:
        """Release the backend's connections (called when the command ends)."""
        backend_, self._backend = self._backend, None
        close = getattr(backend_, "close", None)
        if callable(close):
            close()


_fallback = State()
# The root context of the running invocation, bound by the root group around each command.
# Kept here rather than asked of click, whose globals are private to typer in some releases.
_invocation: ContextVar[Any] = ContextVar("promptvault_cli_invocation", default=None)


def bind_invocation(ctx: Any) -> Token[Any]:
    """Make ``ctx`` (the root ``typer.Context``) the one :func:`state` reads."""
    return _invocation.set(ctx)


def unbind_invocation(token: Token[Any]) -> None:
    """Undo :func:`bind_invocation` when the command ends."""
    _invocation.reset(token)


def state() -> State:
    """The current invocation's state (a default one outside a command, e.g. in tests)."""
    ctx = _invocation.get()
    if ctx is None:
        return _fallback
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def want_json(flag: bool = False) -> bool:
    """Whether to print JSON: the command's ``--json`` or the global one."""
    return flag or state().json


def find_project(start: Path | None = None) -> Project | None:
    """The nearest ``promptvault.toml`` from ``start`` (default: the working dir) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return load_project(candidate)
    return None


def load_project(path: Path) -> Project:
    """Parse a project file; relative SQLite paths and folders are relative to it."""
    import tomllib

    from promptvault.errors import InvalidInputError

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(
            f"{path}: {exc}", details={"file": str(path), "field": "promptvault.toml"}
        ) from exc
    section = raw.get("promptvault", raw)
    if not isinstance(section, dict):
        raise InvalidInputError(
            f"{path}: [promptvault] must be a table", details={"file": str(path)}
        )
    project = Project(path=path)
    for key in ("database_url", "url", "prompts_dir"):
        value = section.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(
                f"{path}: {key} must be a string",
                details={"file": str(path), "field": key},
            )
    if section.get("database_url"):
        project.database_url = absolute_sqlite_url(section["database_url"], path.parent)
    if section.get("url"):
        project.url = section["url"]
    if section.get("prompts_dir"):
        project.prompts_dir = path.parent / section["prompts_dir"]
    return project


def absolute_sqlite_url(url: str, base: Path) -> str:
    """``sqlite:///rel/path.db`` made relative to ``base``; other URLs unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith("/") or rest.startswith(":memory:"):
        return url
    return f"{prefix}{(base / rest).resolve()}"


def project() -> Project | None:
    """The project file in effect for this invocation (looked up once)."""
    st = state()
    if st._project is False:
        st._project = find_project()
    return st._project if isinstance(st._project, Project) else None


def settings() -> Settings:
    """Settings from flags, environment, the project file and defaults (built once)."""
    st = state()
    if st._settings is not None:
        return st._settings
    from promptvault.config import Settings

    overrides: dict[str, Any] = {}
    proj = project()
    if st.home is not None:
        overrides["home"] = st.home
    if st.db:
        overrides["database_url"] = st.db
    elif proj and proj.database_url and not os.environ.get("PROMPTVAULT_DATABASE_URL"):
        overrides["database_url"] = proj.database_url
    if st.server:
        overrides["url"] = st.server
    elif proj and proj.url and not os.environ.get("PROMPTVAULT_URL"):
        overrides["url"] = proj.url
    if st.api_key:
        overrides["api_key"] = st.api_key
    if st.db and not st.server:
        overrides["url"] = None  # an explicit --db means local mode
    st._settings = Settings(**overrides)
    return st._settings


def is_remote() -> bool:
    """Whether commands talk to a server rather than a local database."""
    return bool(settings().url)


def backend() -> Any:
    """The registry to talk to: a local Vault, or the SDK client in remote mode."""
    st = state()
    if st._backend is None:
        cfg = settings()
        if cfg.url:
            from promptvault.cli._remote import open_remote

            st._backend = open_remote(cfg.url, cfg.api_key, cfg.home)
        else:
            from promptvault.vault import Vault

            st._backend = Vault.open(settings=cfg)
    return st._backend


def actor() -> str:
    """Who is acting: ``--actor``, ``PROMPTVAULT_ACTOR``, else the login name."""
    st = state()
    if st.actor:
        return st.actor
    env = os.environ.get("PROMPTVAULT_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli"


def prompts_dir() -> Path:
    """Where prompt files live: the project's ``prompts_dir``, else ``./prompts``."""
    return project_prompts_dir(project())


def project_prompts_dir(proj: Project | None) -> Path:
    """:func:`prompts_dir` of the project file ``proj`` (None: no project file)."""
    if proj and proj.prompts_dir is not None:
        # Relative to the working directory when inside it, so messages show short paths.
        cwd = Path.cwd().resolve()
        folder = proj.prompts_dir.resolve()
        return folder.relative_to(cwd) if folder.is_relative_to(cwd) else folder
    return Path("prompts")
