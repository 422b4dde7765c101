"""Datasets: create, change and read versioned cases. Every change is one transaction that
bumps the dataset's version and appends one audit entry; a change that changes nothing
makes no version."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptvault._fileio import atomic_write
from promptvault.errors import ConflictError, DatasetNotFound, InvalidInputError, suggest
from promptvault.evals.dataset_io import Format, case_from_mapping, dump_cases, parse_cases
from promptvault.evals.evaluators import check_specs
from promptvault.evals.models import DATASET_NAME, Case, Dataset, DatasetChange
from promptvault.storage.unit_of_work import utcnow

if TYPE_CHECKING:
    from promptvault.storage.database import Database
    from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["DatasetsMixin", "check_dataset_name", "load_dataset"]

MAX_CASES = 100_000


def check_dataset_name(name: str, field: str = "name") -> str:
    """``name`` if it is a valid dataset (or provider) name."""
    if not isinstance(name, str) or not DATASET_NAME.match(name):
        raise InvalidInputError(
            f"{name!r} is not a valid name: letters, digits, '_', '.', '-', at most 200",
            details={"field": field},
        )
    return name


def load_dataset(work: UnitOfWork, name: str) -> dict[str, Any]:
    """The stored dataset ``name``, or DatasetNotFound with near names."""
    found = work.evals.dataset(name)
    if found is None:
        near = suggest(name, [d["name"] for d in work.evals.datasets()])
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise DatasetNotFound(
            f"no dataset named {name!r}{hint}", details={"field": "dataset", "suggestions": near}
        )
    return found


def _entity(row: Mapping[str, Any], cases: int) -> Dataset:
    fields = {k: row[k] for k in Dataset.model_fields if k in row and k != "cases"}
    return Dataset(**fields, cases=cases)


class DatasetsMixin:
    """The dataset half of :class:`~promptvault.evals.service.EvalService`."""

    _db: Database

    # --- reads --------------------------------------------------------------------------

    def datasets(self) -> list[Dataset]:
        """Every dataset, by name, with its current case count."""
        with self._db.read_work() as work:
            return [_entity(d, d["cases"]) for d in work.evals.datasets()]

    def dataset(self, name: str) -> Dataset:
        """One dataset's current state."""
        with self._db.read_work() as work:
            row = load_dataset(work, name)
            return _entity(row, len(work.evals.cases_at(row["id"], row["version"])))

    def cases(self, name: str, *, version: int | None = None) -> list[Case]:
        """The cases of ``name`` at ``version`` (default: the current one)."""
        with self._db.read_work() as work:
            row = load_dataset(work, name)
            at = _version(row, version)
            return [Case(**c) for c in work.evals.cases_at(row["id"], at)]

    def export_cases(
        self,
        name: str,
        path: str | Path | None = None,
        *,
        fmt: Format = "jsonl",
        version: int | None = None,
    ) -> str:
        """The cases as JSONL or CSV text; written atomically to ``path`` when given."""
        text = dump_cases(self.cases(name, version=version), fmt)
        if path is not None:
            atomic_write(Path(path), text)
        return text

    # --- changes ------------------------------------------------------------------------

    def create_dataset(
        self,
        name: str,
        *,
        description: str = "",
        evaluators: Sequence[Mapping[str, Any]] = (),
        cases: Sequence[Mapping[str, Any] | Case] = (),
        actor: str = "",
    ) -> Dataset:
        """A new dataset (version 1), optionally with its first cases and evaluators."""
        check_dataset_name(name)
        specs = check_specs(evaluators)
        parsed = _parse_many(cases)
        who = actor = actor or self._db.default_actor

        def change(work: UnitOfWork) -> Dataset:
            if work.evals.dataset(name) is not None:
                raise ConflictError(f"a dataset named {name!r} exists", details={"field": "name"})
            now = utcnow()
            dataset_id = work.evals.insert_dataset(
                name=name,
                description=description,
                version=1,
                evaluators=specs,
                created_at=now,
                created_by=who,
                updated_at=now,
                updated_by=who,
            )
            work.evals.insert_cases(dataset_id, 1, [c.model_dump() for c in parsed])
            work.audit(
                actor=actor,
                action="dataset.create",
                target=f"dataset:{name}",
                details={"version": 1, "cases": len(parsed)},
            )
            row = work.evals.dataset(name)
            assert row is not None
            return _entity(row, len(parsed))

        return self._db.write_work(change)

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        evaluators: Sequence[Mapping[str, Any]] | None = None,
        actor: str = "",
    ) -> Dataset:
        """Change the description or the default evaluators (a new version)."""
        specs = None if evaluators is None else check_specs(evaluators)
        actor = actor or self._db.default_actor

        def change(work: UnitOfWork) -> Dataset:
            row = load_dataset(work, name)
            fields: dict[str, Any] = {}
            if description is not None and description != row["description"]:
                fields["description"] = description
            if specs is not None and specs != row["evaluators"]:
                fields["evaluators"] = specs
            if fields:
                _bump(work, row, actor, "dataset.update", {"fields": sorted(fields)}, **fields)
            fresh = work.evals.dataset(name)
            assert fresh is not None
            return _entity(fresh, len(work.evals.cases_at(fresh["id"], fresh["version"])))

        return self._db.write_work(change)

    def add_cases(
        self, name: str, cases: Sequence[Mapping[str, Any] | Case], *, actor: str = ""
    ) -> DatasetChange:
        """Add new cases (a key that exists is a conflict: use :meth:`edit_case`)."""
        parsed = _parse_many(cases)
        actor = actor or self._db.default_actor
        return self._apply(name, parsed, actor=actor, action="dataset.add", upsert=False)

    def edit_case(
        self, name: str, key: str, case: Mapping[str, Any] | Case, *, actor: str = ""
    ) -> DatasetChange:
        """Replace case ``key`` (its key stays ``key``)."""
        data = case.model_dump() if isinstance(case, Case) else dict(case)
        actor = actor or self._db.default_actor
        data["key"] = key
        parsed = _parse_many([data])

        def change(work: UnitOfWork) -> DatasetChange:
            row = load_dataset(work, name)
            if not work.evals.live_keys(row["id"], [key]):
                raise _no_case(name, key)
            return _upsert(work, row, parsed, actor=actor, action="dataset.edit", upsert=True)

        return self._db.write_work(change)

    def delete_cases(self, name: str, keys: Sequence[str], *, actor: str = "") -> DatasetChange:
        """Remove cases from the dataset's next version (earlier versions keep them)."""
        if not keys:  # an empty change would still make a version
            raise InvalidInputError("name the cases to remove", details={"field": "keys"})
        actor = actor or self._db.default_actor

        def change(work: UnitOfWork) -> DatasetChange:
            row = load_dataset(work, name)
            live = work.evals.live_keys(row["id"], list(keys))
            missing = [k for k in keys if k not in live]
            if missing:
                raise _no_case(name, missing[0])
            version = _bump(
                work, row, actor, "dataset.delete", {"keys": list(keys)[:100], "removed": len(live)}
            )
            work.evals.close_cases(row["id"], list(live), version)
            return DatasetChange(dataset=name, version=version, removed=len(live))

        return self._db.write_work(change)

    def import_cases(
        self,
        name: str,
        source: str | Path,
        *,
        fmt: Format | None = None,
        partial: bool = False,
        replace: bool = False,
        create: bool = True,
        actor: str = "",
    ) -> DatasetChange:
        """Import JSONL or CSV cases (``source`` is a path, or the text itself).

        All or nothing: one bad line refuses the file, with every problem listed (line and
        field), unless ``partial`` keeps the good lines and reports the bad ones in
        ``skipped``. Cases whose key exists are updated; ``replace`` also removes the cases
        the file does not have. A missing dataset is created unless ``create=False``.
        """
        text, fmt = _read_source(source, fmt)
        read, problems = parse_cases(text, fmt)
        if problems and not partial:
            first = problems[0]
            raise InvalidInputError(
                f"line {first.line}: {first.message}"
                + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
                details={
                    "field": first.field,
                    "line": first.line,
                    "problems": [p.model_dump() for p in problems[:100]],
                },
            )
        actor = actor or self._db.default_actor
        if create:
            self._ensure(name, actor)
        parsed = [c for _, c in read]

        def change(work: UnitOfWork) -> DatasetChange:
            row = load_dataset(work, name)
            done = _upsert(
                work,
                row,
                parsed,
                actor=actor,
                action="dataset.import",
                upsert=True,
                replace=replace,
            )
            return done.model_copy(update={"skipped": problems})

        return self._db.write_work(change)

    # --- helpers ------------------------------------------------------------------------

    def _ensure(self, name: str, actor: str) -> None:
        with self._db.read_work() as work:
            if work.evals.dataset(name) is not None:
                return
        with contextlib.suppress(ConflictError):  # created a moment ago: import into it
            self.create_dataset(name, actor=actor)

    def _apply(
        self, name: str, cases: list[Case], *, actor: str, action: str, upsert: bool
    ) -> DatasetChange:
        def change(work: UnitOfWork) -> DatasetChange:
            return _upsert(
                work, load_dataset(work, name), cases, actor=actor, action=action, upsert=upsert
            )

        return self._db.write_work(change)


def _version(row: Mapping[str, Any], version: int | None) -> int:
    if version is None:
        return int(row["version"])
    if not 1 <= version <= row["version"]:
        raise InvalidInputError(
            f"dataset {row['name']!r} has versions 1 to {row['version']}, not {version}",
            details={"field": "version"},
        )
    return version


def _no_case(name: str, key: str) -> InvalidInputError:
    return InvalidInputError(
        f"dataset {name!r} has no case {key!r}", details={"field": "key", "key": key}
    )


def _parse_many(cases: Sequence[Mapping[str, Any] | Case]) -> list[Case]:
    if len(cases) > MAX_CASES:
        raise InvalidInputError(f"at most {MAX_CASES} cases per change", details={"field": "cases"})
    out: list[Case] = []
    seen: set[str] = set()
    for i, item in enumerate(cases):
        try:
            case = item if isinstance(item, Case) else case_from_mapping(item, where=f"cases[{i}]")
        except InvalidInputError as exc:
            field = f"cases[{i}].{exc.details.get('field', '')}".rstrip(".")
            raise InvalidInputError(
                f"cases[{i}]: {exc.message}", details={"field": field}
            ) from None
        if case.key in seen:
            raise InvalidInputError(
                f"cases[{i}]: key {case.key!r} appears twice", details={"field": f"cases[{i}].key"}
            )
        seen.add(case.key)
        out.append(case)
    return out


def _bump(
    work: UnitOfWork,
    row: Mapping[str, Any],
    actor: str,
    action: str,
    details: Mapping[str, Any],
    **fields: Any,
) -> int:
    """Make the dataset's next version (with ``fields`` changed) and audit it."""
    version = int(row["version"]) + 1
    work.evals.update_dataset(
        row["id"],
        version=version,
        updated_at=utcnow(),
        updated_by=actor,
        **fields,
    )
    work.audit(
        actor=actor,
        action=action,
        target=f"dataset:{row['name']}",
        details={"version": version, **details},
    )
    return version


def _upsert(
    work: UnitOfWork,
    row: Mapping[str, Any],
    cases: list[Case],
    *,
    actor: str,
    action: str,
    upsert: bool,
    replace: bool = False,
) -> DatasetChange:
    current = {c["key"]: Case(**c) for c in work.evals.cases_at(row["id"], row["version"])}
    added = [c for c in cases if c.key not in current]
    changed = [c for c in cases if c.key in current and current[c.key] != c]
    unchanged = len(cases) - len(added) - len(changed)
    if changed and not upsert:
        raise ConflictError(
            f"case {changed[0].key!r} exists in dataset {row['name']!r}: edit it instead",
            details={"field": "key", "key": changed[0].key},
        )
    removed = sorted(set(current) - {c.key for c in cases}) if replace else []
    if not (added or changed or removed):
        return DatasetChange(dataset=row["name"], version=row["version"], unchanged=unchanged)
    version = _bump(
        work,
        row,
        actor,
        action,
        {"added": len(added), "updated": len(changed), "removed": len(removed)},
    )
    work.evals.close_cases(row["id"], [c.key for c in changed] + removed, version)
    work.evals.insert_cases(row["id"], version, [c.model_dump() for c in added + changed])
    return DatasetChange(
        dataset=row["name"],
        version=version,
        added=len(added),
        updated=len(changed),
        removed=len(removed),
        unchanged=unchanged,
    )


def _read_source(source: str | Path, fmt: Format | None) -> tuple[str, Format]:
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"cannot read {source}: {exc}", details={"field": "path"}
            ) from None
        if fmt is None:
            fmt = "csv" if source.suffix.lower() == ".csv" else "jsonl"
        return text, fmt
    return source, fmt or "jsonl"
