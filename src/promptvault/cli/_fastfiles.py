"""``promptvault check``, and ``push`` of a folder whose files are all unchanged, without
Typer, pydantic or SQLAlchemy.

``check`` reads no database: its quick path is the full command's work (``cli/_filework.py``)
without Typer. ``push`` is run by CI on every commit, mostly on files that have not changed;
when every file's content hash, description and tags equal its prompt's latest version (read
with the standard library's ``sqlite3``), nothing is written and the answer is the list of
unchanged files. Any other case (a file that changed or has an error, labels, remote mode,
see :mod:`promptvault.cli._fastpath`) returns None before printing anything, and the full
command runs instead (``tests/cli/test_cli_fast_files.py`` compares the two).
"""

from __future__ import annotations

from pathlib import Path

from promptvault.cli._fastpath import FullPath, database_path, options

__all__ = ["check_fast", "push_fast"]

_PUSH_OPTIONS = {"--message": "message", "-m": "message"}


def _prompts_root() -> Path:
    """The prompts folder of the project file in effect (``cli._context.prompts_dir``)."""
    from promptvault.cli._context import find_project, project_prompts_dir

    return project_prompts_dir(find_project())


def check_fast(args: list[str]) -> int | None:
    """Run ``promptvault check ARGS`` here: its exit status, or None for the full command."""
    try:
        paths, flags, _ = options(args, flags=["--json"])
        from promptvault.cli._filework import load_checked

        _files, problems, count = load_checked(
            [Path(p) for p in paths], root=_prompts_root(), known_partials=True
        )
    except Exception:  # anything uncovered or failing: the full path answers
        return None
    from promptvault.cli._filework import check_status

    return check_status(problems, count, as_json="--json" in flags)


def push_fast(args: list[str]) -> int | None:
    """Run ``promptvault push ARGS`` here when every file is unchanged, else None."""
    try:
        # A message is only written with a new version: none is made here.
        paths, flags, _ = options(args, flags=["--json", "--dry-run"], valued=_PUSH_OPTIONS)
        database = database_path()
        from promptvault.cli._filework import included_first, load_checked, push_row, same_meta
        from promptvault.registry.validation import content_hash
        from promptvault.storage.sqlite_reads import read_summaries

        files, problems, _count = load_checked(
            [Path(p) for p in paths], root=_prompts_root(), known_partials=False
        )
        if any(p.severity == "error" for p in problems):
            raise FullPath  # the full command lists them and pushes nothing
        summaries = read_summaries(database, include_archived=True)
        if summaries is None:
            raise FullPath
        latest = {s.name: s for s in summaries}
        rows = []
        # The full command's first test of each file, which is all an unchanged file needs.
        for pf in included_first(files):
            summary = latest.get(pf.name)
            if (
                summary is None
                or not summary.latest_version
                or not same_meta(pf, summary)
                or summary.latest_hash is None
                or content_hash(**pf.content()) != summary.latest_hash
            ):
                raise FullPath  # new, changed, or to be compared with the stored version
            rows.append(push_row(pf, "unchanged", summary.latest_version, []))
    except Exception:  # anything uncovered or failing: the full path answers
        return None
    from promptvault.cli._filework import print_push, report_problems

    report_problems(problems)  # warnings only
    print_push(rows, [], dry_run="--dry-run" in flags, as_json="--json" in flags)
    return 0
