"""`digitalstate federation`: run the trust anchor and manage the federation document."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from digitalstate.cli.common import CliError, console, ensure_port_free, now, one_line_errors
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import ROLES, FederationDocument, Role
from digitalstate.federation.service import add_member, latest_document, revoke_member
from digitalstate.federation.setup import ANCHOR_CONFIG, init_anchor
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.settings import AnchorSettings, load_anchor_settings, load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions

app = typer.Typer(
    help="Run the trust anchor and manage the federation document.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The trust anchor's anchor.toml.", show_default=True)
]


def _with_anchor(settings: AnchorSettings) -> tuple[KeyPair, timedelta]:
    return KeyPair.load(settings.key_path), timedelta(hours=settings.anchor.validity_hours)


def _parse_roles(text: str) -> list[Role]:
    roles = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        raise CliError(
            f"--roles: {', '.join(bad) or 'none given'}: use a comma list of {', '.join(ROLES)}"
        )
    return roles  # type: ignore[return-value]


@app.command("init")
@one_line_errors
def init_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Directory for the anchor's files.")
    ] = Path("anchor"),
    name: Annotated[
        str, typer.Option(help="The federation's name.")
    ] = "digitalstate demo federation",
    host: Annotated[str, typer.Option(help="Address the anchor listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the anchor listens on.")] = 8100,
    base_url: Annotated[
        str | None, typer.Option(help="Public base URL (default http://HOST:PORT).")
    ] = None,
    catalogue: Annotated[
        Path | None,
        typer.Option(help="TOML catalogue of purposes, bases and fields (default: the demo's)."),
    ] = None,
    validity_hours: Annotated[float, typer.Option(help="Validity of each document version.")] = 24,
    database_url: Annotated[
        str, typer.Option(help="SQLAlchemy URL (default SQLite in --dir).")
    ] = "",
) -> None:
    """Create a trust anchor: key pair, anchor.toml, database and the first signed document."""
    settings, document = init_anchor(
        directory,
        federation=name,
        base_url=base_url or f"http://{host}:{port}",
        host=host,
        port=port,
        catalogue=load_catalogue(catalogue),
        validity_hours=validity_hours,
        now=now(),
        database_url=database_url,
    )
    key = KeyPair.load(settings.key_path)
    console.print(f"Created trust anchor of [bold]{name}[/] in {directory}")
    console.print(f"Federation document version {document.version}, expires {document.expires_at}")
    console.print("Pin this trust-anchor public key in every node (node init --anchor-key):")
    console.print(key.public.b64, markup=False, highlight=False)


@app.command("add-member")
@one_line_errors
def add_member_command(
    config: ConfigOption = Path(ANCHOR_CONFIG),
    node_config: Annotated[
        Path | None, typer.Option(help="Read id, name, roles, URL and key from a node.toml.")
    ] = None,
    member_id: Annotated[str | None, typer.Option("--id", help="Member id.")] = None,
    name: Annotated[str | None, typer.Option(help="Institution name.")] = None,
    roles: Annotated[
        str | None, typer.Option(help="Comma list: charter,register,service,opendata.")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="The node's base URL.")] = None,
    public_key: Annotated[
        str | None, typer.Option(help="The node's Ed25519 public key, base64.")
    ] = None,
) -> None:
    """Add a member and its public key, issuing a new signed version."""
    if node_config is not None:
        node = load_node_settings(node_config)
        member_id = member_id or node.node.id
        name = name or node.node.name
        roles = roles or ",".join(node.node.roles)
        base_url = base_url or node.node.base_url
        public_key = public_key or KeyPair.load(node.key_path).public.b64
    missing = [
        flag
        for flag, value in (
            ("--id", member_id),
            ("--name", name),
            ("--roles", roles),
            ("--base-url", base_url),
            ("--public-key", public_key),
        )
        if not value
    ]
    if missing:
        raise CliError(f"add-member needs {', '.join(missing)} (or --node-config PATH)")
    assert member_id and name and roles and base_url and public_key
    try:
        key = PublicKey.from_b64(public_key)
    except ValueError as exc:
        raise CliError(f"--public-key: {exc}") from exc
    settings = load_anchor_settings(config)
    anchor, validity = _with_anchor(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            document = add_member(
                session,
                anchor,
                member_id=member_id,
                name=name,
                roles=_parse_roles(roles),
                base_url=base_url.rstrip("/"),
                public_key=key,
                now=now(),
                validity=validity,
            )
    finally:
        engine.dispose()
    console.print(f"Added {member_id}; federation document is now version {document.version}")


@app.command("revoke-member")
@one_line_errors
def revoke_member_command(
    member_id: Annotated[str, typer.Option("--id", help="Member id to revoke.")],
    config: ConfigOption = Path(ANCHOR_CONFIG),
) -> None:
    """Revoke a member and its keys from now on, issuing a new signed version."""
    settings = load_anchor_settings(config)
    anchor, validity = _with_anchor(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            document = revoke_member(
                session, anchor, member_id=member_id, now=now(), validity=validity
            )
    finally:
        engine.dispose()
    console.print(f"Revoked {member_id}; federation document is now version {document.version}")


def _print_document(document: FederationDocument) -> None:
    console.print(
        f"[bold]{document.federation}[/] version {document.version}, "
        f"issued {document.issued_at}, expires {document.expires_at}"
    )
    # Ids and URLs are copied from here into commands: fold them, never cut them short.
    table = Table()
    table.add_column("member", no_wrap=True)
    for header in ("name", "roles", "base URL", "status"):
        table.add_column(header, overflow="fold")
    for member in document.members:
        status = f"revoked {member.revoked_at}" if member.revoked_at else "active"
        table.add_row(member.id, member.name, ",".join(member.roles), member.base_url, status)
    console.print(table)
    console.print(
        f"{len(document.purposes)} purposes, {len(document.statutory_bases)} statutory bases, "
        f"{len(document.fields)} fields"
    )


@app.command("show")
@one_line_errors
def show_command(
    config: ConfigOption = Path(ANCHOR_CONFIG),
    as_json: Annotated[bool, typer.Option("--json", help="Print the document as JSON.")] = False,
) -> None:
    """Show the current federation document: members, keys and catalogues."""
    settings = load_anchor_settings(config)
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            document = latest_document(session)
    finally:
        engine.dispose()
    if document is None:
        raise CliError(
            f"{config}: the anchor holds no document; run 'digitalstate federation init'"
        )
    if as_json:
        print(json.dumps(document.model_dump(mode="json"), indent=2))
    else:
        _print_document(document)


@app.command("serve")
@one_line_errors
def serve_command(config: ConfigOption = Path(ANCHOR_CONFIG)) -> None:
    """Run the trust anchor, publishing the signed federation document over HTTP."""
    from digitalstate.app import create_anchor_app
    from digitalstate.web.hardening import server_options
    from digitalstate.web.serving import serve

    settings = load_anchor_settings(config)
    ensure_port_free(settings.anchor.host, settings.anchor.port, f"{config} ([anchor] port)")
    serve(
        create_anchor_app(settings),
        host=settings.anchor.host,
        port=settings.anchor.port,
        log_level=settings.server.log_level,
        access_log=settings.server.access_log,
        **server_options(settings.web),
    )
