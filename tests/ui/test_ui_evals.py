"""Evaluation pages: datasets, a run's per-case table with a failures filter, comparison."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from evals.model_stub import ModelStub
from promptvault import Vault

AsRole = Callable[[str], TestClient]


def _runs(vault: Vault) -> tuple[str, str]:
    vault.push("qa", template=[{"role": "user", "content": "Answer {{q}}"}], config={"model": "m"})
    vault.push("qa", template=[{"role": "user", "content": "Say {{q}}"}], config={"model": "m"})
    vault.evals.create_dataset(
        "support-qa",
        description="Questions <b>customers</b> ask",
        cases=[
            {
                "key": f"c{i}",
                "variables": {"q": str(i)},
                "expected": f"Answer {i}",
                "tags": ["billing"],
            }
            for i in range(6)
        ],
        evaluators=[{"type": "exact"}],
    )

    def reply(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        return (
            f"Answer {text.split()[-1]}"
            if text.startswith("Answer") or text.endswith(("0", "1", "2"))
            else "No <script>idea</script>"
        )

    with ModelStub(reply=reply) as stub:
        vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
        a = vault.evals.run("support-qa", "qa@1").id
        b = vault.evals.run("support-qa", "qa@2").id
    return a, b


def test_eval_pages(vault: Vault, as_role: AsRole) -> None:
    a, b = _runs(vault)
    viewer = as_role("viewer")
    home = viewer.get("/evals")
    assert home.status_code == 200
    assert 'href="/evals/datasets/support-qa"' in home.text and f"/evals/runs/{b}" in home.text
    assert "Questions &lt;b&gt;customers&lt;/b&gt; ask" in home.text

    dataset = viewer.get("/evals/datasets/support-qa?version=1")
    assert dataset.status_code == 200 and "6 cases" in dataset.text
    assert '<td class="mono break">{"q": "3"}</td>' in dataset.text

    run = viewer.get(f"/evals/runs/{b}")
    assert "qa@2" in run.text and "Failures only (3)" in run.text
    assert "No &lt;script&gt;idea&lt;/script&gt;" in run.text and "<script>idea" not in run.text
    failures = viewer.get(f"/evals/runs/{b}?failures=1").text
    assert failures.count('class="result-fail"') == 3 and 'class="result-pass"' not in failures

    compared = viewer.get(f"/evals/compare?a={a}&b={b}")
    assert compared.status_code == 200
    # Six cases, three flipped: too few differing cases to tell.
    assert "only 3 cases differ, and at least 6 differing cases are needed" in compared.text
    assert '<del class="wd-del">Answer</del>' in compared.text
    assert compared.text.count("pass -&gt; fail") == 3
    flipped = viewer.get(f"/evals/compare?a={a}&b={b}&flipped=1").text
    assert flipped.count('<td class="mono">c') == 3
    assert viewer.get("/evals/datasets/nope").status_code == 404


def test_playground_run_calls_the_model(vault: Vault, as_role: AsRole) -> None:
    vault.push(
        "greet",
        template=[{"role": "user", "content": "Hello {{name}}"}],
        config={"model": "gpt-4o-mini"},
    )
    viewer = as_role("viewer")
    assert 'id="run-model"' not in viewer.get("/play/greet").text  # no provider yet
    with ModelStub(reply=lambda body: "Hi <b>Ada</b>!") as stub:
        vault.evals.set_provider("stub", kind="openai", base_url=stub.url)
        assert 'id="run-model"' not in viewer.get("/play/greet").text  # readers cannot
        editor = as_role("editor")
        page = editor.get("/play/greet")
        assert 'id="run-model"' in page.text
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        ran = editor.post(
            "/play/greet",
            data={"csrf": token, "v": "1", "var_name": "Ada", "action": "run", "provider": "stub"},
        )
        assert ran.status_code == 200
        assert "<code>Hi &lt;b&gt;Ada&lt;/b&gt;!</code>" in ran.text
        assert "stub/gpt-4o-mini · 2 + 2 tokens · " in ran.text
        assert stub.requests == [vault.build("greet", {"name": "Ada"}).to_openai()]
        denied = viewer.post(
            "/play/greet",
            data={"csrf": token, "v": "1", "var_name": "Ada", "action": "run"},
        )
        assert denied.status_code == 403 and len(stub.requests) == 1


def test_promote_page_shows_the_gate_and_admins_may_override(vault: Vault, as_role: AsRole) -> None:
    _runs(vault)
    vault.evals.set_gate("qa", "production", dataset="support-qa", thresholds={"exact": 0.9})
    admin, editor = as_role("admin"), as_role("editor")
    confirm = admin.get("/promote/qa?version=2&label=production")
    assert confirm.status_code == 200
    assert "Eval gate on dataset support-qa: not passed." in confirm.text
    assert "exact: mean 0.500 is below 0.9" in confirm.text
    assert 'id="override-gate"' in confirm.text
    token = confirm.text.split('name="csrf" value="')[1].split('"')[0]
    refused = admin.post("/promote/qa", data={"csrf": token, "label": "production", "version": "2"})
    assert refused.status_code == 409 and "eval_gate_failed" in refused.text
    assert vault.labels("qa")["production"] == 1
    staging = editor.get("/promote/qa?version=2&label=staging").text
    assert 'id="eval-gate"' not in staging  # not gated
    forced = admin.post(
        "/promote/qa",
        data={"csrf": token, "label": "production", "version": "2", "override_gate": "1"},
        follow_redirects=False,
    )
    assert forced.status_code == 303 and vault.labels("qa")["production"] == 2
    rollback = admin.get("/rollback/qa?label=production")
    assert rollback.status_code == 200 and 'id="eval-gate"' not in rollback.text
