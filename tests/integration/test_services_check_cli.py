"""`digitalstate service check`: one line per file, exit status 1 when any file is unusable."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from digitalstate.cli.main import app
from digitalstate.demo.federation import DEMO_SERVICES

runner = CliRunner()
DEMO_FILES = sorted(DEMO_SERVICES.glob("*.toml"))
CATALOGUE = Path(__file__).resolve().parents[2] / "src/digitalstate/federation/demo-catalogue.toml"


def test_every_demo_file_checks_ok_against_the_demo_catalogue() -> None:
    result = runner.invoke(
        app, ["service", "check", *map(str, DEMO_FILES), "--catalogue", str(CATALOGUE)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(DEMO_FILES)
    vote = DEMO_SERVICES / "register-to-vote.toml"
    assert f"{vote}: ok (register-to-vote, 11 pages, 12 questions)" in lines
    assert f"{DEMO_SERVICES / 'tax-details.toml'}: ok (tax-details, 0 pages, 0 questions)" in lines
    assert result.stderr == ""


def test_each_unusable_file_is_one_line_and_the_status_is_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text((DEMO_SERVICES / "change-your-address.toml").read_text().replace(
        'type = "date"', 'type = "when"'
    ))  # fmt: skip
    twin = tmp_path / "twin.toml"
    twin.write_text('slug = "tax-details"\n' + (DEMO_SERVICES / "tax-details.toml").read_text())
    good = DEMO_SERVICES / "tax-details.toml"
    missing = tmp_path / "missing.toml"
    result = runner.invoke(
        app, ["service", "check", str(good), str(broken), str(twin), str(missing)]
    )
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{good}: ok (tax-details, 0 pages, 0 questions)"]
    errors = result.stderr.splitlines()
    assert len(errors) == 3
    assert errors[0].startswith(f"{broken}: pages[1].questions[0].type: Input should be ")
    assert "; fix: use one of the values named" in errors[0]
    assert errors[1].startswith(f"{twin}: slug: 'tax-details' is also the slug of {good}")
    assert errors[2].startswith(f"{missing}: no such service definition file")


def test_a_purpose_the_catalogue_lacks_is_named(tmp_path: Path) -> None:
    path = tmp_path / "fishing.toml"
    path.write_text(
        (DEMO_SERVICES / "tax-details.toml")
        .read_text()
        .replace('"tax-administration"', '"fishing"')
    )
    result = runner.invoke(app, ["service", "check", str(path), "--catalogue", str(CATALOGUE)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"{path}: purpose: 'fishing' is not in the federation's purpose catalogue; fix: use a "
        "purpose and fields that the catalogue lists, or add them to it"
    )


def test_an_unreadable_catalogue_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["service", "check", str(DEMO_FILES[0]), "--catalogue", str(tmp_path / "none.toml")],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("digitalstate: error: ")
    assert "cannot read the catalogue" in result.stderr


def test_an_experiment_whose_shares_do_not_add_up_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "care.toml"
    care = (DEMO_SERVICES / "ask-for-a-care-assessment.toml").read_text()
    assert care.count("share = 50") == 2
    path.write_text(care.replace("share = 50", "share = 45", 1))
    result = runner.invoke(app, ["service", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: experiments[0].variants: the variants' shares add up to 95, not 100; "
        "fix: make the shares (whole percentages) add up to 100"
    ]
