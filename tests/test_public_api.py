"""The top-level public names: pinned, each importable, and ``import promptvault`` stays cheap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import promptvault

PUBLIC = [
    "AuditEntry",
    "AuditReport",
    "BuiltRequest",
    "ChangeEvent",
    "CollectionNotFound",
    "ConflictError",
    "Example",
    "ExperimentNotFound",
    "ExperimentStateError",
    "ForbiddenError",
    "InvalidInputError",
    "LabelEvent",
    "LabelInvalidError",
    "LabelNotFound",
    "LabelProtectedError",
    "MissingVariablesError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PromptDiff",
    "PromptNotFound",
    "PromptSummary",
    "PromptUnavailable",
    "PromptVaultError",
    "PromptVersion",
    "PushResult",
    "RateLimitedError",
    "Settings",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TemplateSyntaxError",
    "UnauthenticatedError",
    "UrlRefusedError",
    "Vault",
    "VersionConflictError",
    "VersionNotFound",
    "WebhookNotFound",
    "__version__",
    "compile_chat",
    "compile_template",
]


def test_public_names_are_pinned() -> None:
    assert sorted(promptvault.__all__) == sorted(PUBLIC)
    assert len(set(promptvault.__all__)) == len(promptvault.__all__)


def test_every_public_name_resolves_to_its_defining_object() -> None:
    from promptvault.entities import PromptVersion
    from promptvault.errors import PromptNotFound, PromptVaultError
    from promptvault.templating import compile_template
    from promptvault.vault import Vault

    for name in PUBLIC:
        assert getattr(promptvault, name) is not None, name
    assert promptvault.Vault is Vault
    assert promptvault.PromptVersion is PromptVersion
    assert promptvault.compile_template is compile_template
    assert issubclass(promptvault.PromptNotFound, PromptVaultError)
    assert promptvault.PromptNotFound is PromptNotFound
    assert promptvault.compile_template("Hi {{name}}").render({"name": "Ada"}) == "Hi Ada"


def test_unknown_names_raise_attribute_error() -> None:
    try:
        promptvault.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("promptvault.NoSuchThing resolved")


def test_import_promptvault_loads_nothing_heavy() -> None:
    script = textwrap.dedent(
        """
        import sys
        import promptvault
        heavy = ("sqlalchemy", "numpy", "httpx", "fastapi", "pydantic", "typer")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        promptvault.Vault
        print("sqlalchemy" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True"]
