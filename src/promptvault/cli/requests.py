"""``promptvault requests``: list, approve and reject change requests (four-eyes approval).

Against a server (``--server`` / ``PROMPTVAULT_URL``) the API key decides who acts, so the
server refuses an approval by the requester's own key; on a local database the actor is
``--actor`` / ``PROMPTVAULT_ACTOR``, and the same rule applies to that name.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["requests_app"]

requests_app = typer.Typer(
    help="Change requests: label moves that wait for a second person's approval.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RequestId = Annotated[int, typer.Argument(help="The request's number.", min=1)]
Comment = Annotated[str, typer.Option("--comment", "-m", help="Why (kept with the decision).")]


class _Remote:
    """The three calls over HTTP, errors rebuilt as the server's exception classes."""

    def __init__(self) -> None:
        import httpx

        from promptvault.cli._remote import ADMIN_KEY_FILE

        cfg = ctx.settings()
        key = cfg.api_key
        stored = cfg.home / ADMIN_KEY_FILE
        if not key and stored.is_file():
            key = stored.read_text(encoding="utf-8").strip() or None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=str(cfg.url), headers=headers, timeout=10.0)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        from promptvault.errors import error_from_payload

        with self.http as http:
            response = http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise error_from_payload(response.json())
        return response.json()

    def list(self, status: str | None, prompt: str | None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"status": status, "prompt": prompt}.items() if v}
        items: list[dict[str, Any]] = self._call("GET", "/v1/requests", params=params)["items"]
        return items

    def decide(self, request_id: int, how: str, comment: str) -> dict[str, Any]:
        done: dict[str, Any] = self._call(
            "POST", f"/v1/requests/{request_id}/{how}", json={"comment": comment}
        )
        return done


def _local_list(status: str | None, prompt: str | None) -> list[dict[str, Any]]:
    vault = ctx.backend()
    return [r.model_dump(mode="json") for r in vault.requests.list(status=status, prompt=prompt)]


def _local_decide(request_id: int, how: str, comment: str) -> dict[str, Any]:
    vault = ctx.backend()
    decide = vault.approve_request if how == "approve" else vault.requests.reject
    done = decide(request_id, actor=ctx.actor(), comment=comment)
    result: dict[str, Any] = done.model_dump(mode="json")
    return result


@requests_app.command("list")
def list_requests(
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="open (default) | approved | rejected")
    ] = "open",
    prompt: Annotated[str | None, typer.Option("--prompt", "-p")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every status.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Change requests, newest first (open ones unless asked)."""
    wanted = None if all_ else status
    rows = _Remote().list(wanted, prompt) if ctx.is_remote() else _local_list(wanted, prompt)
    if ctx.want_json(json_):
        output.print_json(rows)
        return
    output.table(
        ["#", "prompt", "label", "move", "status", "requested by", "comment"],
        [
            [
                str(r["id"]),
                r["prompt"],
                r["label"],
                f"v{r['from_version'] if r['from_version'] is not None else '-'} -> "
                f"v{r['to_version']}",
                r["status"],
                r["created_by"],
                (r["comment"] or "")[:60],
            ]
            for r in rows
        ],
    )


def _decide(request_id: int, how: str, comment: str, json_: bool) -> None:
    if ctx.is_remote():
        done = _Remote().decide(request_id, how, comment)
    else:
        done = _local_decide(request_id, how, comment)
    if ctx.want_json(json_):
        output.print_json(done)
        return
    if how == "approve":
        output.out(
            f"approved #{done['id']}: {done['label']} of {done['prompt']} now points at "
            f"version {done['to_version']}"
        )
    else:
        output.out(f"rejected #{done['id']}: nothing moved")


@requests_app.command("approve")
def approve(request_id: RequestId, comment: Comment = "", json_: JsonFlag = False) -> None:
    """Approve a request and make its move (not your own request)."""
    _decide(request_id, "approve", comment, json_)


@requests_app.command("reject")
def reject(request_id: RequestId, comment: Comment = "", json_: JsonFlag = False) -> None:
    """Reject a request: nothing moves."""
    _decide(request_id, "reject", comment, json_)
