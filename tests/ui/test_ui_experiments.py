"""Experiment pages in process: list, report with SRM first and charts, roles, CSRF, escaping."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from promptvault import Vault
from promptvault.server.ui.charts import bars_chart, nice_ticks, timeline_chart
from promptvault.server.ui.experiment_view import fmt_chance, fmt_p
from promptvault.storage.tables import ExperimentRow

from .conftest import csrf_of

AsRole = Callable[[str], TestClient]


def make_experiment(
    vault: Vault,
    name: str = "support-tone",
    *,
    prompt: str = "support",
    units: int = 1200,
    days: int = 4,
    split: tuple[float, float] | None = None,
    description: str = "",
    rate: tuple[float, float] = (0.30, 0.40),
    label: str = "production",
) -> None:
    """A running 90/10 experiment with exposures and outcomes spread over ``days`` days.

    ``split`` forces the share of units reported in each variant (for a broken split), the
    way an application that loses exposures of one arm would: by dropping units.
    """
    if prompt not in [p.name for p in vault.list_prompts()]:
        vault.push(prompt, template="Hello {{name}}.", message="first")
        vault.push(prompt, template="Hi there {{name}}!", message="friendlier")
        vault.set_label(prompt, "production", 1)
    if label != "production":
        vault.set_label(prompt, label, 1)
    vault.experiments.create(
        name,
        prompt=prompt,
        label=label,
        variants=[
            {"name": "control", "version": 1, "weight": 90},
            {"name": "friendly", "version": 2, "weight": 10},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        guardrails=[{"name": "latency", "kind": "continuous", "direction": "lower"}],
        description=description,
        actor="setup",
    )
    vault.experiments.start(name, actor="setup")
    exp = vault.experiments.get(name)
    rng = random.Random(7)
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    keep = {"control": 1.0, "friendly": 1.0}
    if split is not None:
        shares = exp.assigner().shares
        ratios = {"control": split[0] / shares[0], "friendly": split[1] / shares[1]}
        keep = {v: r / max(ratios.values()) for v, r in ratios.items()}
    for i in range(units):
        unit = f"u{i}"
        variant = str(exp.assigner().variant(unit))
        if rng.random() >= keep[variant]:
            continue
        at = (now - timedelta(days=i % days)).isoformat()
        p = rate[0] if variant == "control" else rate[1]
        events.append(
            {"type": "exposure", "experiment": name, "unit_id": unit, "variant": variant, "at": at}
        )
        events.append(
            {
                "type": "outcome",
                "experiment": name,
                "unit_id": unit,
                "metric": "resolved",
                "value": float(rng.random() < p),
                "at": at,
            }
        )
        events.append(
            {
                "type": "outcome",
                "experiment": name,
                "unit_id": unit,
                "metric": "latency",
                "value": rng.gauss(1.2, 0.3),
                "at": at,
            }
        )
    vault.experiments.ingest(events)


def test_list_shows_name_prompt_status_variants_and_metric(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=50, days=1)
    viewer = as_role("viewer")
    page = viewer.get("/experiments")
    assert page.status_code == 200
    text = page.text
    assert 'href="/experiments/support-tone"' in text
    assert 'href="/prompts/support"' in text
    assert "status-running" in text
    assert 'control <span class="ver">v1</span> 90%' in text
    assert 'friendly <span class="ver">v2</span> 10%' in text
    assert "<code>resolved</code>" in text
    assert viewer.get("/experiments?status=draft").text.count("support-tone") == 0
    assert "support-tone" in viewer.get("/experiments?prompt=support&status=running").text
    assert viewer.get("/experiments?status=bogus").status_code == 422
    # Linked from the nav and from the prompt's page.
    assert 'href="/experiments"' in viewer.get("/").text
    prompt_page = viewer.get("/prompts/support").text
    assert 'href="/experiments/support-tone"' in prompt_page


def test_report_table_chart_and_mode(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault)
    report = vault.experiments.report("support-tone")
    viewer = as_role("viewer")
    page = viewer.get("/experiments/support-tone")
    assert page.status_code == 200
    text = page.text
    assert "Split check passed" in text
    assert "Mode: sequential." in text
    # Figures of the report, formatted: n per variant, rates, chances.
    primary = report.analysis["metrics"][0]
    control, friendly = primary["variants"]
    assert f">{control['n']:,}<" in text and f">{friendly['n']:,}<" in text
    assert f"{control['mean'] * 100:.1f}%" in text
    comparison = primary["comparisons"][0]
    assert fmt_chance(comparison["chance_to_beat"]) in text
    assert fmt_p(comparison["p_value"]) in text
    # One chart per metric, drawn over the days with data, in two sizes.
    assert text.count('class="chart chart-timeline chart-wide') == 2
    assert text.count('class="chart chart-timeline chart-narrow') == 2
    assert re.search(r'<path class="band s1" d="M[\d.,]+ L', text)
    assert "<circle" in text and "<script" not in text.split("</head>")[1]
    fixed = viewer.get("/experiments/support-tone?mode=fixed")
    assert "Mode: fixed horizon." in fixed.text
    fixed_p = vault.experiments.report("support-tone", mode="fixed").analysis["metrics"][0]
    assert fmt_p(fixed_p["comparisons"][0]["p_value"]) in fixed.text
    assert viewer.get("/experiments/support-tone?mode=bayes").status_code == 422
    assert viewer.get("/experiments/nope").status_code == 404


def test_single_day_draws_bars_with_whiskers(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=300, days=1)
    text = as_role("viewer").get("/experiments/support-tone").text
    assert 'class="chart chart-bars chart-wide' in text
    assert text.count('class="whisker"') >= 6  # two variants x two metrics x 3 strokes


def test_sample_ratio_mismatch_is_shown_first(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=2000, days=2, split=(0.5, 0.5))
    text = as_role("viewer").get("/experiments/support-tone").text
    assert "Sample ratio mismatch" in text
    body = text.split('<main id="main"', 1)[1]
    srm_at = body.index("Sample ratio mismatch")
    assert srm_at < body.index("Variants") < body.index("report-table")
    assert "cannot be trusted" in body[: body.index("Variants")]


def _stop_form(client: TestClient, name: str) -> str:
    page = client.get(f"/experiments/{name}/stop")
    assert page.status_code == 200
    return csrf_of(page.text)


def test_viewer_sees_no_buttons_and_forged_posts_are_refused(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=40, days=1)
    viewer = as_role("viewer")
    page = viewer.get("/experiments/support-tone").text
    assert "Stop…" not in page and "Conclude…" not in page
    token = csrf_of(page)  # the sign-out form's token: a real one, of this session
    assert viewer.get("/experiments/support-tone/stop").status_code == 403
    assert viewer.get("/experiments/support-tone/conclude?winner=friendly").status_code == 403
    stop = viewer.post("/experiments/support-tone/stop", data={"csrf": token})
    assert stop.status_code == 403
    conclude = viewer.post(
        "/experiments/support-tone/conclude", data={"csrf": token, "winner": "friendly"}
    )
    assert conclude.status_code == 403
    assert vault.experiments.get("support-tone").status == "running"


def test_editor_may_neither_stop_nor_conclude_on_production(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=40, days=1)
    editor = as_role("editor")
    page = editor.get("/experiments/support-tone").text
    assert "Stop…" not in page and "Conclude…" not in page  # production is protected
    assert editor.get("/experiments/support-tone/stop").status_code == 403
    assert editor.get("/experiments/support-tone/conclude?winner=friendly").status_code == 403
    token = csrf_of(page)  # the sign-out form's token: a real one, of this session
    stop = editor.post("/experiments/support-tone/stop", data={"csrf": token, "reason": "x"})
    assert stop.status_code == 403
    refused = editor.post(
        "/experiments/support-tone/conclude", data={"csrf": token, "winner": "friendly"}
    )
    assert refused.status_code == 403 and vault.labels("support")["production"] == 1
    assert vault.experiments.get("support-tone").status == "running"


def test_editor_stops_on_an_unprotected_label(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=40, days=1, label="canary")
    editor = as_role("editor")
    page = editor.get("/experiments/support-tone").text
    assert "Stop…" in page and "Conclude…" in page
    token = _stop_form(editor, "support-tone")
    done = editor.post(
        "/experiments/support-tone/stop",
        data={"csrf": token, "reason": "enough data"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/experiments/support-tone"
    exp = vault.experiments.get("support-tone")
    assert exp.status == "stopped" and exp.decision == {
        "action": "stop",
        "auto": False,
        "reason": "enough data",
    }
    entry = vault.audit.entries()[-1]
    assert (entry.action, entry.actor, entry.target) == (
        "experiment.stop",
        "editor-key",
        "experiment:support-tone",
    )
    after = editor.get("/experiments/support-tone").text
    assert "Stopped</strong>: enough data" in after and "Stop…" not in after


def test_admin_concludes_through_the_confirmation(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=40, days=1)
    admin = as_role("admin")
    page = admin.get("/experiments/support-tone").text
    assert "Conclude…" in page
    confirm = admin.get("/experiments/support-tone/conclude?winner=friendly")
    assert confirm.status_code == 200
    assert "Conclude and move production to v2" in confirm.text
    assert admin.get("/experiments/support-tone/conclude?winner=ghost").status_code == 422
    token = csrf_of(confirm.text)
    done = admin.post(
        "/experiments/support-tone/conclude",
        data={"csrf": token, "winner": "friendly"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert vault.labels("support")["production"] == 2
    assert vault.experiments.get("support-tone").status == "concluded"
    actions = [e.action for e in vault.audit.entries()[-2:]]
    assert actions == ["label.set", "experiment.conclude"]
    assert "friendly won; production moved to v2" in admin.get("/experiments/support-tone").text


def test_posts_need_the_csrf_token(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=40, days=1)
    admin = as_role("admin")
    for data in ({}, {"csrf": "forged"}):
        response = admin.post("/experiments/support-tone/stop", data=data)
        assert response.status_code == 403
        assert "security token" in response.text
    assert vault.experiments.get("support-tone").status == "running"


def test_stopping_twice_says_why(vault: Vault, as_role: AsRole) -> None:
    make_experiment(vault, units=40, days=1)
    admin = as_role("admin")
    token = _stop_form(admin, "support-tone")
    assert admin.post("/experiments/support-tone/stop", data={"csrf": token}).status_code == 200
    again = admin.post("/experiments/support-tone/stop", data={"csrf": token})
    assert again.status_code == 409 and "it is stopped" in again.text


RAW = ("<script>window.__xss", "<img src=x onerror", '"><b onmouseover')


def test_payloads_in_names_descriptions_and_reasons_are_escaped(
    vault: Vault, as_role: AsRole
) -> None:
    make_experiment(
        vault,
        "xss",
        units=60,
        days=2,
        description="<script>window.__xss=1</script> {{7*7}} {{constructor}}",
    )
    admin = as_role("admin")
    token = _stop_form(admin, "xss")
    reason = '"><b onmouseover=window.__xss=2> {{#x}}'
    assert admin.post("/experiments/xss/stop", data={"csrf": token, "reason": reason}).status_code
    # Names are validated on create; one that reached the database anyway is still text.
    payload = "<img src=x onerror=window.__xss=3>"
    vault.db.write(
        lambda s: s.execute(
            update(ExperimentRow).where(ExperimentRow.name == "xss").values(name=payload)
        )
    )
    for url in ("/experiments", "/experiments/%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D3%3E"):
        page = admin.get(url)
        assert page.status_code == 200, url
        for raw in RAW:
            assert raw not in page.text, (raw, url)
    detail = admin.get("/experiments/%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D3%3E").text
    assert "&lt;img src=x onerror=window.__xss=3&gt;" in detail
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt; {{7*7}} {{constructor}}" in detail
    assert "&#34;&gt;&lt;b onmouseover=window.__xss=2&gt; {{#x}}" in detail


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, [0.0, 0.25, 0.5, 0.75, 1.0]),
        (0.27, 0.43, [0.25, 0.3, 0.35, 0.4, 0.45]),
        (980.0, 1230.0, [900.0, 1000.0, 1100.0, 1200.0, 1300.0]),
        (5.0, 5.0, [4.5, 4.75, 5.0, 5.25, 5.5]),
    ],
)
def test_nice_ticks_cover_the_range(low: float, high: float, expected: list[float]) -> None:
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert ticks == pytest.approx(expected)


def test_chart_geometry_follows_the_data() -> None:
    points = [
        {"day": "2026-01-01", "variant": "a", "n": 10, "mean": 0.2, "ci_low": 0.1, "ci_high": 0.3},
        {"day": "2026-01-01", "variant": "b", "n": 10, "mean": 0.4, "ci_low": 0.3, "ci_high": 0.5},
        {
            "day": "2026-01-03",
            "variant": "a",
            "n": 20,
            "mean": 0.25,
            "ci_low": None,
            "ci_high": None,
        },
    ]
    chart = timeline_chart(points, ["a", "b"], fmt=str, width=400, height=200)
    assert chart is not None and chart.kind == "timeline"
    a, b = chart.series
    # Higher means are drawn higher (smaller y); the later day is further right.
    assert b.dots[0].y < a.dots[0].y
    assert a.dots[1].x > a.dots[0].x
    assert a.band == ""  # only one day with an interval: no band
    assert timeline_chart(points[:2], ["a", "b"], fmt=str) is None  # one day: no line
    bars = bars_chart([("a", 0.2, 0.1, 0.3, 10), ("b", None, None, None, 0)], fmt=str)
    assert bars is not None and [bar.name for bar in bars.bars] == ["a"]
    assert bars.zero is not None and bars.bars[0].top < bars.zero
    assert bars_chart([("a", None, None, None, 0)], fmt=str) is None


def test_a_draft_without_data_says_what_is_undefined(vault: Vault, as_role: AsRole) -> None:
    vault.push("empty", template="a", message="1")
    vault.push("empty", template="b", message="2")
    vault.experiments.create(
        "draft-one",
        prompt="empty",
        variants=[
            {"name": "control", "version": 1, "weight": 1},
            {"name": "b", "version": 2, "weight": 1},
            {"name": "c", "version": 2, "weight": 1},
        ],
        primary_metric={"name": "minutes", "kind": "continuous"},
    )
    admin = as_role("admin")
    text = admin.get("/experiments/draft-one").text
    assert "status-draft" in text and "no exposures yet" in text
    assert "Not enough data on minutes yet" in text
    assert text.count('verdict-muted">undefined<') == 2  # one per treatment, never NaN
    assert "at least 2 observations" in text  # and why
    assert "nan" not in text.lower().replace("nano", "")
    assert "p (Holm)" in text  # two treatments: Holm-adjusted p-values get a column
    assert "No minutes outcomes yet." in text
    assert "Stop…" not in text and "Conclude…" not in text  # nothing to stop or conclude
    listing = admin.get("/experiments").text
    assert "not started" in listing


def test_a_bandit_shows_its_weights_over_time_and_the_regret_saved(
    vault: Vault, as_role: AsRole
) -> None:
    vault.push("support", template="Hello {{name}}.", message="first")
    vault.push("support", template="Hi there {{name}}!", message="friendlier")
    vault.set_label("support", "production", 1)
    vault.experiments.create(
        "tone",
        prompt="support",
        variants=[{"name": "control", "version": 1}, {"name": "friendly", "version": 2}],
        primary_metric={"name": "resolved", "kind": "binary"},
        allocation="bandit",
        start=True,
    )
    assigner = vault.experiments.get("tone").assigner()
    units = [f"u{i}" for i in range(300)]
    vault.experiments.ingest(
        [{"type": "exposure", "experiment": "tone", "unit_id": u} for u in units]
        + [
            {"type": "outcome", "experiment": "tone", "unit_id": u, "metric": "resolved",
             "value": assigner.variant(u) == "friendly"}
            for u in units
        ]
    )  # fmt: skip
    vault.experiments.reallocate("tone")
    text = as_role("viewer").get("/experiments/tone").text
    assert "Bandit: weights over time" in text
    assert "95.0%" in text and "bandit</td>" in text and "create</td>" in text
    regret = vault.experiments.report("tone").analysis["allocation"]["regret"]
    assert f"saved {regret['saved']:.1f}" in text
    assert "Bandit: weights over time" not in _fixed_page(vault, as_role)


def _fixed_page(vault: Vault, as_role: AsRole) -> str:
    vault.experiments.stop("tone")
    make_experiment(vault, units=100, days=1)
    return str(as_role("viewer").get("/experiments/support-tone").text)
