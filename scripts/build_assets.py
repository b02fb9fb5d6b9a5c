#!/usr/bin/env python3
"""Build the web assets into src/digitalstate/web/static/govuk/ (git ignores it).

Run `npm ci` first. This compiles govuk-frontend's Sass with our settings
(src/digitalstate/web/sass/govuk-frontend.scss: a system font stack, no @font-face) and copies
its JavaScript. It copies nothing from govuk-frontend's assets/: every file there is either
the GDS Transport typeface or the GOV.UK crown (favicons, crest, app icons, the OpenGraph image
and a manifest that names them), all of which belong to GOV.UK. Our own favicon, CSS and
JavaScript entry point are committed beside the target in static/.

Usage: python scripts/build_assets.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
DIST = NODE_MODULES / "govuk-frontend" / "dist" / "govuk"
SASS = NODE_MODULES / ".bin" / "sass"
ENTRY = ROOT / "src" / "digitalstate" / "web" / "sass" / "govuk-frontend.scss"
TARGET = ROOT / "src" / "digitalstate" / "web" / "static" / "govuk"
CSS_NAME = "govuk-frontend.min.css"
JS_NAMES = ("govuk-frontend.min.js", "govuk-frontend.min.js.map")
# Strings that must never reach the compiled CSS: GOV.UK's typeface and any font download.
FORBIDDEN_IN_CSS = ("GDS Transport", "@font-face", "/fonts/")


class BuildError(RuntimeError):
    """The assets cannot be built; the message says why and what to do."""


def pinned_version() -> str:
    """The govuk-frontend version that package.json pins."""
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    return str(package["dependencies"]["govuk-frontend"])


def installed_version() -> str | None:
    """The govuk-frontend version in node_modules, or None when it is not installed."""
    manifest = NODE_MODULES / "govuk-frontend" / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def check_installed() -> str:
    """The installed govuk-frontend version, once it is the pinned one and sass is present."""
    wanted, found = pinned_version(), installed_version()
    if found != wanted:
        raise BuildError(
            f"node_modules has govuk-frontend {found or 'missing'}, package.json pins {wanted}:"
            " run 'npm ci' at the repository root"
        )
    if not SASS.exists():
        raise BuildError(
            f"{SASS.relative_to(ROOT)} is missing: run 'npm ci' at the repository root"
        )
    return found


def compile_css(destination: Path) -> None:
    """Compile govuk-frontend with our Sass settings into destination."""
    command = [
        str(SASS),
        f"--load-path={NODE_MODULES}",
        "--style=compressed",
        "--no-source-map",
        str(ENTRY),
        str(destination),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"sass failed ({result.returncode}):\n{result.stderr.strip()}")
    if result.stderr.strip():
        print(result.stderr.strip(), file=sys.stderr)


def check_css(css: Path) -> None:
    """Refuse CSS that names GOV.UK's typeface or could download a font."""
    text = css.read_text(encoding="utf-8")
    found = [needle for needle in FORBIDDEN_IN_CSS if needle in text]
    if found:
        raise BuildError(f"{css.name} contains {found}: check {ENTRY.relative_to(ROOT)}")


def copy_javascript(destination: Path) -> None:
    """Copy govuk-frontend's prebuilt ES module bundle and its source map."""
    for name in JS_NAMES:
        shutil.copy2(DIST / name, destination / name)


def build() -> Path:
    """Build every asset in a scratch directory, then put it in place of TARGET."""
    version = check_installed()
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and swap, so a failed build never leaves half an asset set.
    with tempfile.TemporaryDirectory(dir=TARGET.parent, prefix=".govuk-build-") as scratch:
        staging = Path(scratch) / "govuk"
        staging.mkdir()
        compile_css(staging / CSS_NAME)
        check_css(staging / CSS_NAME)
        copy_javascript(staging)
        (staging / "VERSION").write_text(f"govuk-frontend {version}\n", encoding="utf-8")
        if TARGET.exists():
            shutil.rmtree(TARGET)
        staging.rename(TARGET)
    return TARGET


def main() -> int:
    """Build the assets; print where they went, or why they could not be built."""
    try:
        target = build()
    except BuildError as error:
        print(f"build_assets: {error}", file=sys.stderr)
        return 1
    names = ", ".join(sorted(p.name for p in target.iterdir()))
    print(f"build_assets: wrote {target.relative_to(ROOT)}/: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
