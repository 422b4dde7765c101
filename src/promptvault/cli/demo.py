"""``promptvault demo``: load a small realistic registry and say what to try next."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["NEXT_STEPS", "demo"]

NEXT_STEPS = """\
Try next:
  promptvault list
  promptvault log customer_support
  promptvault render customer_support --var company_name=Acme --var question="Where is my order?"
  promptvault render customer_support@staging --var company_name=Acme \\
      --var 'tier:={"pro": true}' --var question="Can I get a refund?"
  promptvault diff customer_support@production customer_support@staging
  promptvault promote customer_support 2
  promptvault rollback customer_support
  promptvault render support_chat --var company_name=Acme --var question="Hi" --json
  promptvault build customer_support --var company_name=Acme \
      --var question="Where is my refund?" --examples support_examples --openai
  promptvault experiment report support-tone --plot support-tone.png
  promptvault experiment ramp support-tone control=50 friendly=50
  promptvault audit log"""


def demo(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load demo prompts: customer support (two versions), a classifier and a chat prompt.

    Prompts that already exist are left alone.
    """
    from promptvault.demo.prompts import load_demo

    backend = ctx.backend()
    done = load_demo(backend, actor=ctx.actor())
    # A local Vault also gets the example collection (the SDK has no collection writes).
    examples: Any = getattr(backend, "examples", None)
    if examples is not None and hasattr(examples, "add_many"):
        from promptvault.demo.examples import load_demo_examples

        done += load_demo_examples(examples, actor=ctx.actor())
    from promptvault.demo.experiments import DEMO_EXPERIMENT, load_experiment_demo

    done.append((DEMO_EXPERIMENT, load_experiment_demo(backend, actor=ctx.actor())))
    if ctx.want_json(json_):
        output.print_json([{"name": n, "result": r} for n, r in done])
        return
    output.table(["prompt", "result"], done)
    output.out()
    output.out(NEXT_STEPS)
