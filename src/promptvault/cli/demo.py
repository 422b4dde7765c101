"""``promptvault demo``: load a small realistic registry and say what to try next."""

from __future__ import annotations

from typing import Annotated

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
  promptvault audit log"""


def demo(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load demo prompts: customer support (two versions), a classifier and a chat prompt.

    Prompts that already exist are left alone.
    """
    from promptvault.registry.demo import load_demo

    done = load_demo(ctx.backend(), actor=ctx.actor())
    if ctx.want_json(json_):
        output.print_json([{"name": n, "result": r} for n, r in done])
        return
    output.table(["prompt", "result"], done)
    output.out()
    output.out(NEXT_STEPS)
