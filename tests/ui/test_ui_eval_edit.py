"""Datasets changed and runs started from the web UI: the API's permission per role, CSRF,
the prompt's schema check shown at the field, imports with per-line errors, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from evals.model_stub import ModelStub
from promptvault import Vault
from waiting import wait_until

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]
TYPED = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
}


def _setup(vault: Vault) -> None:
    vault.push("count", template="Count to {{n}}", config={"model": "m"}, variables_schema=TYPED)


def test_editor_creates_adds_edits_deletes_with_the_schema_check(
    vault: Vault, as_role: AsRole
) -> None:
    _setup(vault)
    editor = as_role("editor")
    home = editor.get("/evals").text
    assert 'id="new-dataset"' in home
    made = editor.post(
        "/evals/datasets",
        data={"csrf": csrf_of(home), "name": "numbers", "evaluators": '[{"type": "exact"}]'},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/evals/datasets/numbers"
    assert vault.evals.dataset("numbers").evaluators == [{"type": "exact", "name": "exact"}]

    form = editor.get("/evals/datasets/numbers/new-case?prompt=count@latest").text
    assert 'value="count@latest"' in form
    token = csrf_of(form)
    # The prompt's schema refuses a string: the form comes back with the error at the field.
    refused = editor.post(
        "/evals/datasets/numbers/new-case",
        data={"csrf": token, "prompt": "count@latest", "key": "one",
              "variables": '{"n": "one"}', "expected": "1"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert (
        'name="variables" rows="6" class="mono invalid" aria-invalid="true" '
        'aria-describedby="err-variables"'
    ) in refused.text
    assert "&#39;one&#39; is not of type &#39;integer&#39;" in refused.text
    assert "{&#34;n&#34;: &#34;one&#34;}" in refused.text  # what was typed is kept
    assert vault.evals.cases("numbers") == []
    bad_json = editor.post(
        "/evals/datasets/numbers/new-case",
        data={"csrf": token, "variables": '{"n": 1', "prompt": ""},
    )
    assert bad_json.status_code == 422 and 'id="err-variables"' in bad_json.text
    unknown = editor.post(
        "/evals/datasets/numbers/new-case",
        data={"csrf": token, "variables": '{"n": 1}', "prompt": "nope@production"},
    )
    assert unknown.status_code == 422 and 'id="err-prompt"' in unknown.text

    added = editor.post(
        "/evals/datasets/numbers/new-case",
        data={"csrf": token, "prompt": "count@latest", "key": "one", "variables": '{"n": 1}',
              "expected": "1", "tags": "small, odd", "metadata": '{"source": "ui"}'},
        follow_redirects=False,
    )  # fmt: skip
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/evals/datasets/numbers?prompt=count%40latest"
    (case,) = vault.evals.cases("numbers")
    assert case.model_dump() == {
        "key": "one",
        "variables": {"n": 1},
        "expected": "1",
        "tags": ["small", "odd"],
        "metadata": {"source": "ui"},
    }
    page = editor.get("/evals/datasets/numbers?prompt=count@latest").text
    assert 'href="/evals/datasets/numbers/cases/one?prompt=count%40latest"' in page

    edit = editor.get("/evals/datasets/numbers/cases/one").text
    assert "Count" not in edit and '"n": 1' in edit.replace("&#34;", '"')
    edited = editor.post(
        "/evals/datasets/numbers/cases/one",
        data={"csrf": token, "prompt": "count@latest", "variables": '{"n": 2}',
              "expected": '{"value": 2}', "expected_json": "1"},
        follow_redirects=False,
    )  # fmt: skip
    assert edited.status_code == 303
    assert vault.evals.cases("numbers")[0].expected == {"value": 2}
    deleted = editor.post(
        "/evals/datasets/numbers/cases/one",
        data={"csrf": token, "delete": "1"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303 and vault.evals.cases("numbers") == []

    entries = [e for e in vault.audit.entries() if e.target == "dataset:numbers"]
    assert {e.actor for e in entries} == {"editor-key"}
    assert len(entries) == 4  # create, add, edit, delete
    assert editor.get("/evals/datasets/numbers/cases/one").status_code == 404


def test_import_lists_each_refused_line(vault: Vault, as_role: AsRole) -> None:
    _setup(vault)
    vault.evals.create_dataset("numbers")
    editor = as_role("editor")
    token = csrf_of(editor.get("/evals/datasets/numbers").text)
    bad = (
        '{"key": "a", "variables": {"n": 1}}\n'
        '{"key": "b", "variables": 7}\n'
        "not json\n"
        '{"key": "c", "variables": {"n": 3}}\n'
    )

    def upload(content: str, name: str = "cases.jsonl", **extra: str) -> Any:
        return editor.post(
            "/evals/datasets/numbers/import",
            data={"csrf": token, **extra},
            files={"file": (name, content.encode(), "application/octet-stream")},
        )

    refused = upload(bad)
    assert refused.status_code == 422
    assert "Nothing was imported from cases.jsonl: 2 lines refused" in refused.text
    rows = refused.text.split('<table class="table import-problems">')[1]
    assert '<td class="num">2</td><td><code>variables</code></td>' in rows
    assert '<td class="num">3</td>' in rows
    assert vault.evals.cases("numbers") == []

    kept = upload(bad, partial="1")
    assert kept.status_code == 200
    assert "2 added, 0 updated, 0 unchanged; 2 lines refused" in kept.text
    assert [c.key for c in vault.evals.cases("numbers")] == ["a", "c"]
    csv = upload("key,n,expected\nd,4,four\n", name="more.csv")
    assert csv.status_code == 200 and "1 added" in csv.text
    assert vault.evals.cases("numbers")[-1].variables == {"n": "4"}


def test_viewers_and_forged_forms_are_refused(vault: Vault, as_role: AsRole) -> None:
    _setup(vault)
    vault.evals.create_dataset("numbers", cases=[{"key": "one", "variables": {"n": 1}}])
    viewer, editor = as_role("viewer"), as_role("editor")
    page = viewer.get("/evals/datasets/numbers").text
    assert 'id="add-case"' not in page and "/cases/one" not in page and 'id="start-run"' not in page
    token = viewer.get("/evals").text.split('name="csrf-token" content="')[1].split('"')[0]
    for path, data in (
        ("/evals/datasets", {"name": "x"}),
        ("/evals/datasets/numbers/new-case", {"variables": '{"n": 2}'}),
        ("/evals/datasets/numbers/cases/one", {"delete": "1"}),
        ("/evals/datasets/numbers/run", {"prompt": "count@latest"}),
    ):
        as_viewer = viewer.post(path, data={"csrf": token, **data})
        assert as_viewer.status_code == 403, path
        forged = editor.post(path, data={"csrf": "forged", **data})
        assert forged.status_code == 403 and "security token" in forged.text, path
    assert viewer.get("/evals/datasets/numbers/new-case").status_code == 403
    assert len(vault.evals.cases("numbers")) == 1 and len(vault.evals.datasets()) == 1


def test_a_run_started_from_the_dataset_page_shows_its_progress(
    vault: Vault, as_role: AsRole
) -> None:
    _setup(vault)
    vault.evals.create_dataset(
        "numbers",
        cases=[{"key": f"c{i}", "variables": {"n": i}, "expected": f"Count to {i}"}
               for i in range(4)],
        evaluators=[{"type": "exact"}],
    )  # fmt: skip
    with ModelStub() as stub:
        vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
        stub.hang_after(2)
        editor = as_role("editor")
        page = editor.get("/evals/datasets/numbers").text
        assert 'id="start-run"' in page and '<option value="stub">' in page
        started = editor.post(
            "/evals/datasets/numbers/run",
            data={"csrf": csrf_of(page), "prompt": "count@latest", "provider": "stub",
                  "concurrency": "1"},
            follow_redirects=False,
        )  # fmt: skip
        assert started.status_code == 303, started.text
        run_id = started.headers["location"].rsplit("/", 1)[1]

        def state() -> dict[str, Any]:
            got: dict[str, Any] = editor.get(f"/ui/api/evals/runs/{run_id}").json()
            return got

        wait_until(lambda: state()["done"] == 2, what="two cases done")
        assert state() == {"status": "running", "done": 2, "total": 4, "errors": 0}
        running = editor.get(f"/evals/runs/{run_id}").text
        assert 'data-run-progress="/ui/api/evals/runs/' in running
        assert '<progress id="run-progress-bar" max="4" value="2">' in running
        stub.hang_after(None)
        vault.evals.get_run(run_id)  # readable from the library while it runs
        app_tasks = editor.app.state.eval_tasks  # type: ignore[attr-defined]
        app_tasks.shutdown()  # the server stops: the run is interrupted
        assert state()["status"] == "interrupted"
        interrupted = editor.get(f"/evals/runs/{run_id}").text
        assert f"--resume {run_id}" in interrupted and "run-progress-bar" not in interrupted
        bad = editor.post(
            "/evals/datasets/numbers/run",
            data={"csrf": csrf_of(page), "prompt": "count@latest", "concurrency": "zero"},
        )
        assert bad.status_code == 422
    assert editor.get("/ui/api/evals/runs/nope").status_code == 404
