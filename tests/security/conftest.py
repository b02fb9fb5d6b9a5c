"""Security tests run real nodes like the integration tests, with the same clean environment."""

from __future__ import annotations

from integration.conftest import no_settings_from_the_environment  # noqa: F401 (autouse)
