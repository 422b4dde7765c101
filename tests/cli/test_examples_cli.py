"""``promptvault examples ...`` and ``promptvault build`` in-process on a SQLite home."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _setup(cli: Callable[..., Any]) -> None:
    assert cli("demo").exit_code == 0


def test_examples_lifecycle(cli: Callable[..., Any], tmp_path: Path) -> None:
    _setup(cli)
    made = cli(
        "examples", "create", "faq", "--prompt", "sentiment_classifier", "--query", "{{text}}"
    )
    assert made.exit_code == 0 and "hashing:v1:384" in made.stdout
    added = cli(
        "examples", "add", "faq", "-i", "I love it", "-o", "positive", "-c", "pos", "--json"
    )
    first = json.loads(added.stdout)["id"]
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"input": "Terrible service", "output": "negative"})
        + "\n{broken\n"
        + json.dumps({"input": "It is fine", "output": "neutral", "quality": 0.4})
        + "\n",
        encoding="utf-8",
    )
    strict = cli("examples", "import", "faq", str(rows), "--strict")
    assert (
        strict.exit_code == 1 and "line 2" in strict.stderr and "nothing imported" in strict.stderr
    )
    loose = cli("examples", "import", "faq", str(rows))
    assert loose.exit_code == 1  # a row was refused
    assert f"{rows}:2: not valid JSON" in loose.stderr
    assert "imported 2 of 3 rows into faq; 1 refused" in loose.stdout
    listed = json.loads(cli("examples", "list", "faq", "--json").stdout)
    assert [e["input"] for e in listed] == ["I love it", "Terrible service", "It is fine"]
    hits = json.loads(cli("examples", "search", "faq", "terrible", "-k", "1", "--json").stdout)
    assert hits[0]["example"]["output"] == "negative"
    # builds count usage; the list shows the counts
    built = cli(
        "build", "sentiment_classifier", "--var", "text=I love this", "--examples", "faq", "-k", "1"
    )
    assert built.exit_code == 0, built.stderr
    body = json.loads(built.stdout)
    assert body["metadata"]["example_ids"] == [first] and body["metadata"]["collection"] == "faq"
    table = cli("examples", "list", "faq").stdout
    assert "I love it" in table
    used = {
        e["id"]: e["usage_count"]
        for e in json.loads(cli("examples", "list", "faq", "--json").stdout)
    }
    assert used[first] == 1
    out = tmp_path / "faq.csv"
    assert cli("examples", "export", "faq", "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("id,input,output")
    assert cli("examples", "delete", "faq", str(first)).stdout.startswith("deleted 1 example")
    collections = json.loads(cli("examples", "list", "--json").stdout)
    assert [(c["name"], c["size"]) for c in collections] == [("faq", 2), ("support_examples", 18)]
    assert cli("examples", "delete", "faq", "--collection").exit_code == 0
    missing = cli("examples", "list", "faq")
    assert missing.exit_code == 1 and "no example collection named 'faq'" in missing.stderr


def test_build_prints_provider_requests(cli: Callable[..., Any]) -> None:
    _setup(cli)
    args = ("build", "customer_support", "--var", "company_name=Acme", "--var", "question=Refund?")
    neutral = json.loads(cli(*args).stdout)
    assert (
        neutral["model"] == "gpt-4"
        and neutral["metadata"]["examples_reason"] == "no examples requested"
    )
    openai = json.loads(cli(*args, "--openai").stdout)
    assert openai["model"] == "gpt-4" and openai["messages"][0]["role"] == "user"
    anthropic = json.loads(cli(*args, "--anthropic").stdout)
    assert anthropic["max_tokens"] == 500 and "temperature" not in anthropic
    bad = cli(*args, "--examples", "nope")
    assert bad.exit_code == 1 and "no example collection named 'nope'" in bad.stderr
    both = cli(*args, "--openai", "--anthropic")
    assert both.exit_code == 1


def test_demo_collection_builds_with_semantic_examples(cli: Callable[..., Any]) -> None:
    _setup(cli)
    again = cli("demo", "--json")
    assert {"name": "support_examples", "result": "already present"} in json.loads(again.stdout)
    built = cli(
        "build",
        "customer_support",
        "--var",
        "company_name=Acme",
        "--var",
        "question=Where is my refund? I sent the item back.",
        "--examples",
        "support_examples",
        "--openai",
    )
    assert built.exit_code == 0, built.stderr
    body = json.loads(built.stdout)
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant"] * 3 + ["user"]
    picked = [m["content"] for m in body["messages"][0:6:2]]
    assert "How do I get a refund for my order?" in picked  # lexical overlap: hashing embedder
    assert "Customer question: Where is my refund?" in body["messages"][-1]["content"]


def test_cli_names_the_embedder_and_offers_minilm_where_installed(
    cli: Callable[..., Any],
) -> None:
    from promptvault.fewshot.embedders import installed_embedders

    assert "minilm" in installed_embedders()  # CI installs the embeddings extra
    made = cli("examples", "create", "shots")
    assert made.exit_code == 0
    assert "promptvault examples reembed shots minilm" in made.stderr
    cli("examples", "add", "shots", "-i", "My package arrived damaged", "-o", "Sorry!")
    found = cli("examples", "search", "shots", "refund for a broken item")
    assert "shots uses the hashing embedder: word overlap" in found.stderr
    assert "minilm is installed" in found.stderr
    assert "minilm" not in found.stdout  # the data stays clean
    table = json.loads(cli("examples", "embedders", "--json").stdout)
    assert {r["embedder"]: r["installed"] for r in table} == {
        "hashing": True,
        "minilm": True,
        "openai": False,
    }
