"""Evaluations in a real Chromium: a case refused by the prompt's schema shows the error at
the field, an import lists its bad lines, a run started from the dataset page shows its
progress live and its results when done (failure filter included), and the playground's Run
button calls the model. axe-core finds no serious or critical violation on these pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from evals.model_stub import ModelStub

from .browser_kit import LAPTOP, Server, shot, sign_in

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '));
}"""
SLOW = 60_000  # ms: waits on a model call or a run
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def _accessible(page: Page, label: str) -> None:
    page.add_script_tag(content=AXE)
    violations = page.evaluate(_AXE_RUN)
    assert violations == [], f"{label}: {json.dumps(violations, indent=1)}"


@pytest.fixture
def stub(server: Server) -> Iterator[ModelStub]:
    def reply(body: dict[str, object]) -> str:
        text = str(body["messages"][-1]["content"])  # type: ignore[index]
        return text if text.endswith(("0", "2")) else "no idea"

    with ModelStub(reply=reply) as model:
        put = server.api.put(
            "/v1/evals/providers/browser-stub", json={"kind": "openai", "base_url": model.url}
        )
        assert put.status_code == 200, put.text
        yield model
        server.api.delete("/v1/evals/providers/browser-stub")


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Page]:
    # bypass_csp: axe is injected as an inline script (the pages allow none)
    context = browser.new_context(  # type: ignore[arg-type]
        viewport=LAPTOP, base_url=server.base, bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, server.admin_key)
    yield page
    context.close()


def test_dataset_cases_import_and_a_live_run(
    server: Server, stub: ModelStub, tab: Page, tmp_path: Path
) -> None:
    server.push("bx/count", template=[{"role": "user", "content": "Count {{n}}"}],
                config={"model": "m"}, variables_schema=SCHEMA)  # fmt: skip
    page = tab
    page.goto("/evals")
    page.get_by_text("New dataset").click()
    page.get_by_label("Name").fill("bx-numbers")
    page.get_by_label("Default evaluators").fill('[{"type": "exact"}]')
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="bx-numbers")).to_be_visible()

    # A case the prompt's schema refuses: the error is shown at the variables field.
    page.get_by_role("link", name="Add a case").click()
    page.get_by_label("Check against prompt").fill("bx/count@latest")
    page.get_by_label("Key").fill("c0")
    page.get_by_label("Variables").fill('{"n": "zero"}')
    page.get_by_label("Expected", exact=False).first.fill("Count 0")
    page.get_by_role("button", name="Add case").click()
    variables = page.get_by_label("Variables")
    expect(variables).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-variables")).to_contain_text("is not of type 'integer'")
    expect(variables).to_have_value('{"n": "zero"}')
    _accessible(page, "case form with an error")
    shot(page, "eval-case-error")
    variables.fill('{"n": 0}')
    page.get_by_role("button", name="Add case").click()
    expect(page.locator(".flash, [role=status]").first).to_contain_text("Saved c0")

    # An import with a bad line is refused whole, each bad line named.
    bad = tmp_path / "cases.jsonl"
    bad.write_text(
        "".join(
            json.dumps({"key": f"c{i}", "variables": {"n": i}, "expected": f"Count {i}"}) + "\n"
            for i in range(1, 4)
        )
        + '{"key": "oops", "variables": [1]}\n',
        encoding="utf-8",
    )
    page.get_by_label("Import a JSONL or CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("Nothing was imported")
    expect(page.locator("table.import-problems tbody tr")).to_have_count(1)
    expect(page.locator("table.import-problems")).to_contain_text("variables")
    _accessible(page, "import report")
    page.get_by_role("link", name="Back to bx-numbers").click()
    page.get_by_label("Keep the good lines").check()
    page.get_by_label("Import a JSONL or CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("3 added")
    page.get_by_role("link", name="Back to bx-numbers").click()
    expect(page.locator("table.cases tbody tr")).to_have_count(4)
    _accessible(page, "dataset page")

    # Edit a case through its form.
    page.get_by_role("link", name="Edit case c3").click()
    page.get_by_label("Tags").fill("edited")
    page.get_by_role("button", name="Save case").click()
    expect(page.locator("table.cases")).to_contain_text("edited")

    # A run: the model answers two cases, then holds; the page follows the progress.
    stub.hold(after=stub.served + 2)
    page.get_by_label("Prompt", exact=False).last.fill("bx/count@latest")
    page.get_by_label("Provider").select_option("browser-stub")
    page.get_by_label("Concurrency").fill("1")
    page.get_by_role("button", name="Start run").click()
    progress = page.locator("#run-progress-text")
    # Generous waits: the run and the page's polling share a loaded machine.
    expect(progress).to_contain_text("2 of 4 cases done, 0 errors", timeout=SLOW)
    expect(page.locator("#run-progress-bar")).to_have_attribute("value", "2", timeout=SLOW)
    _accessible(page, "running run")
    shot(page, "eval-run-progress")
    stub.release()
    expect(page.get_by_text("4 of 4 cases finished")).to_be_visible(timeout=SLOW)
    expect(page.locator("#run-progress")).to_have_count(0)
    expect(page.locator("table.results tbody tr")).to_have_count(4)
    page.get_by_role("link", name="Failures only (2)").click()
    expect(page.locator("table.results tbody tr.result-fail")).to_have_count(2)
    expect(page.locator("table.results tbody tr.result-pass")).to_have_count(0)
    _accessible(page, "finished run, failures only")
    shot(page, "eval-run-failures")


def test_playground_run_button_calls_the_model(server: Server, stub: ModelStub, tab: Page) -> None:
    server.push("bx/hello", template=[{"role": "user", "content": "Count {{n}}"}],
                config={"model": "gpt-4o-mini"})  # fmt: skip
    tab.goto("/play/bx/hello")
    tab.locator('[name="var_n"]').fill("2")
    tab.get_by_label("Provider").select_option("browser-stub")
    tab.get_by_role("button", name="Run", exact=True).click()
    expect(tab.locator("#model-answer")).to_have_text("Count 2", timeout=SLOW)
    expect(tab.locator("#answer-meta")).to_contain_text("browser-stub/gpt-4o-mini · 2 + 2 tokens")
    _accessible(tab, "playground with an answer")
