"""`digitalstate spending`: a node's public spending, imported from CSV (docs/spending.md).

`import` reads a whole spending file and checks every row before it keeps any: a file with a
bad row is refused whole, each bad row named on a line of its own (the file, the row number,
the column and why), and the command exits 1. A payment already kept exactly as read is left
alone, so importing the same file again adds nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from digitalstate.cli.common import CliError, node_database, now, one_line_errors
from digitalstate.spending.domain import MAX_FILE_BYTES, SpendingFileError, read_file
from digitalstate.spending.service import SpendingImportError, import_payments

app = typer.Typer(
    help="The node's public spending: payments imported from CSV.", no_args_is_help=True
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The node's node.toml.")]


@app.command("import")
@one_line_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="The spending file (CSV, UTF-8, a header row).")],
    config: ConfigOption,
) -> None:
    """Import a spending file's payments: all of them, or none when any row is bad."""
    data = _read(file)
    try:
        read = read_file(data)
    except SpendingFileError as exc:
        raise CliError(f"{file}: {exc}") from None
    if read.errors:
        _refuse(file, [str(error) for error in read.errors], more=read.more_errors)
    try:
        with node_database(config) as run:
            imported = run(lambda session: import_payments(session, read.payments, now()))
    except SpendingImportError as exc:
        _refuse(file, [str(error) for error in exc.errors], more=False)
    print(
        f"{file}: imported {imported.added} payments"
        + (
            f" ({imported.unchanged} already imported, left as they were)"
            if imported.unchanged
            else ""
        )
    )


def _read(file: Path) -> bytes:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CliError(
                f"{file}: the file is larger than {MAX_FILE_BYTES // 2**20} MiB; split it"
            )
        return file.read_bytes()
    except OSError as exc:
        raise CliError(f"{file}: cannot be read ({exc.strerror}); check the path") from None


def _refuse(file: Path, lines: list[str], *, more: bool) -> None:
    for line in lines:
        print(f"digitalstate: error: {file}: {line}", file=sys.stderr)
    tail = " (and more: fix these first)" if more else ""
    print(
        f"digitalstate: error: {file}: {len(lines)} bad rows{tail}; nothing imported",
        file=sys.stderr,
    )
    raise typer.Exit(1)
