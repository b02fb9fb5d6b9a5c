"""`digitalstate mail`: a mail catcher, to send a node's email to for development and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digitalstate.cli.common import console, ensure_port_free, one_line_errors

app = typer.Typer(help="Email: a mail catcher for development and demos.", no_args_is_help=True)

DEFAULT_SMTP_PORT = 1025
DEFAULT_HTTP_PORT = 8025


@app.command("catch")
@one_line_errors
def catch_command(
    data_dir: Annotated[
        Path, typer.Option(help="Where the caught messages (a Maildir) and the token's hash live.")
    ] = Path("var/mail-catcher"),
    host: Annotated[str, typer.Option(help="Address to listen on, for SMTP and HTTP.")] = (
        "127.0.0.1"
    ),
    smtp_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port to take SMTP on.")
    ] = DEFAULT_SMTP_PORT,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the page of caught messages.")
    ] = DEFAULT_HTTP_PORT,
) -> None:
    """Take SMTP and keep every message, sending none on; show them at /operator/mail."""
    from digitalstate.mail.catcher import MAIL_PAGE, create_catcher_app
    from digitalstate.web.operator_token import issue_operator_token, stored_digest
    from digitalstate.web.serving import serve

    ensure_port_free(host, smtp_port, "--smtp-port")
    ensure_port_free(host, port, "--port")
    directory = data_dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    shown = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown}:{port}"
    console.print(
        f"Mail catcher: SMTP at {shown}:{smtp_port}, caught messages at {base_url}{MAIL_PAGE}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if stored_digest(directory) is None:
        token = issue_operator_token(directory)
        console.print(
            f"Operator token (shown once; sign in at {base_url}/operator/sign-in, or send it "
            f"as 'Authorization: Bearer'): {token}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    app_ = create_catcher_app(directory, base_url=base_url, smtp_host=host, smtp_port=smtp_port)
    serve(app_, host=host, port=port, log_level="info", access_log=False)
