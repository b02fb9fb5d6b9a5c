"""Node and trust-anchor settings: one TOML file each, every key overridable by environment.

Environment variables are named DIGITALSTATE_<SECTION>__<KEY> (for example
DIGITALSTATE_NODE__PORT=8101) and win over the file. A file that cannot be used is reported
in one line naming the file, the key, what is wrong and how to fix it (SettingsError).
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as EnvironmentParseError

from digitalstate.federation.domain import MEMBER_ID_PATTERN, Role


class SettingsError(ValueError):
    """A settings file or variable that cannot be used; str() is the one-line message."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeSection(_Section):
    """[node]: who this node is and where it listens."""

    id: str = Field(pattern=MEMBER_ID_PATTERN, description="member id, e.g. swansea-motoring")
    name: str = Field(min_length=1, description="the institution's name as people see it")
    roles: list[Role] = Field(min_length=1, description="charter, register, service, opendata")
    base_url: str = Field(pattern=r"^https?://[^/\s]+$", description="public base URL, no path")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8101, ge=1, le=65535, description="TCP port to listen on")
    data_dir: Path = Field(Path("."), description="directory for the key, database and caches")
    key_file: Path = Field(Path("node.key"), description="Ed25519 private key, mode 0600")


class DatabaseSection(_Section):
    """[database]: where the node keeps its data."""

    url: str = Field("", description="SQLAlchemy URL; empty means SQLite in the data directory")
    echo: bool = Field(False, description="log every SQL statement")
    upgrade_on_start: bool = Field(
        True, description="apply pending migrations when the node starts (off: run 'db upgrade')"
    )
    pool_size: int = Field(
        10, ge=1, le=1000, description="PostgreSQL connections each process keeps open"
    )
    max_overflow: int = Field(
        10, ge=0, le=1000, description="more PostgreSQL connections a process may open for a while"
    )


class FederationSection(_Section):
    """[federation]: where the federation document comes from and the key that signs it."""

    anchor_url: str = Field(pattern=r"^https?://[^/\s]+$", description="trust anchor base URL")
    anchor_public_key: str = Field(description="pinned Ed25519 key of the trust anchor, base64")
    refresh_seconds: float = Field(
        10, gt=0, description="how often to ask the anchor for a newer document (304 if none)"
    )
    cache_file: Path = Field(Path("federation.json"), description="last good document on disk")

    @field_validator("anchor_public_key")
    @classmethod
    def _is_key(cls, value: str) -> str:
        from digitalstate.keys import PublicKey

        PublicKey.from_b64(value)
        return value


class ExchangeSection(_Section):
    """[exchange]: limits of the signed exchange."""

    clock_skew_seconds: float = Field(60, gt=0, le=600, description="accepted clock difference")
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="largest body accepted (413 past it)"
    )
    client_connections: int = Field(64, ge=1, description="connections per peer for outgoing calls")
    client_timeout_seconds: float = Field(10, gt=0, description="timeout of an outgoing call")
    max_answer_bytes: int = Field(
        16_777_216,
        ge=65_536,
        description="largest answer to an outgoing call read, unless the call sets its own "
        "(an open data harvest: [opendata] max_file_bytes); a longer one fails the call",
    )


class TellUsOnceSection(_Section):
    """[tellusonce]: delivery of change notices from this node's outbox (register nodes)."""

    retry_base_seconds: float = Field(
        1, gt=0, description="wait before the first retry; it doubles with each failure"
    )
    retry_max_seconds: float = Field(
        300, gt=0, description="longest wait between retries, before jitter (x0.5 to x1.5)"
    )
    dead_after_hours: float = Field(
        48, gt=0, description="a notice still failing this long after it was made is dead-lettered"
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="notices taken per pass")
    poll_seconds: float = Field(
        1.0, gt=0, description="how often the worker looks for due notices when not woken"
    )


class EmailSection(_Section):
    """[email]: the SMTP server this node hands its email to (no [email]: it sends none)."""

    smtp_host: str = Field(min_length=1, description="the SMTP server's host name or address")
    smtp_port: int = Field(587, ge=1, le=65535, description="the SMTP server's port")
    from_address: str = Field(min_length=3, description="the address messages are sent from")
    starttls: bool = Field(
        True, description="require STARTTLS before sending (off: plain SMTP, loopback only)"
    )
    username: str = Field("", description="the name to sign in to the server with; empty: none")
    password_file: str = Field(
        "",
        validate_default=True,
        description="a file (mode 0600) holding the password; needed with username",
    )
    timeout_seconds: float = Field(
        30, gt=0, le=600, description="how long one connection or answer may take"
    )
    retry_base_seconds: float = Field(
        10, gt=0, description="wait before the first retry; it doubles with each failure"
    )
    retry_max_seconds: float = Field(
        1800, gt=0, description="longest wait between retries, before jitter (x0.5 to x1.5)"
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="how often the worker looks for messages due when not woken"
    )
    keep_sent_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="days a sent message stays in the outbox before the worker deletes it",
    )

    @field_validator("password_file")
    @classmethod
    def _with_username(cls, value: str, info: ValidationInfo) -> str:
        if bool(value) != bool(info.data.get("username")):
            raise ValueError(
                "username and password_file go together: set both to sign in to the SMTP "
                "server, or neither"
            )
        return value


class LogSection(_Section):
    """[log]: this node's transparency log and its witnessing of the other nodes' logs."""

    batch_size: int = Field(
        1000, ge=1, le=100_000, description="entries integrated into the tree per transaction"
    )
    max_wait_seconds: float = Field(
        0.25, gt=0, le=60, description="longest an appended entry waits to be integrated"
    )
    checkpoints_kept: int = Field(
        10_000, ge=10, description="uncosigned checkpoints kept besides the newest (older go)"
    )
    witness_interval_seconds: float = Field(
        10, gt=0, description="how often this node fetches, checks and cosigns the others' logs"
    )
    witness_alarm_after_seconds: float = Field(
        300,
        gt=0,
        description="raise an alarm when a log verified before stays unreachable this long",
    )
    witness_audit_leaves: int = Field(
        65_536, ge=0, description="leaf hashes re-read per round to re-audit each log whole"
    )


class EdgeSection(_Section):
    """[web] of the trust anchor: what the HTTP edge trusts and accepts (web/hardening.py)."""

    trusted_proxies: list[str] = Field(
        [], description="proxy addresses whose X-Forwarded-For/-Proto are believed; none: off"
    )
    allowed_hosts: list[str] = Field(
        [], description="Host names answered besides the base URL's host (400 otherwise)"
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, description="largest request body outside /exchange/ (413 past it)"
    )
    server_timing: bool = Field(
        False,
        description="send Server-Timing: app;dur=<ms> on every response (for measuring: it "
        "tells every client how long the server took)",
    )
    languages: list[Literal["en", "cy", "qps-ploc"]] = Field(
        ["en"],
        min_length=1,
        description='languages of the pages, the first the default: ["en"] or ["en", "cy"]',
    )

    @field_validator("languages")
    @classmethod
    def _each_language_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} names a language twice; list each language once")
        return value


class WebSection(EdgeSection):
    """[web]: people's pages: sign-in sessions, operator access and the HTTP edge."""

    session_hours: float = Field(
        8, gt=0, le=24 * 30, description="how long a sign-in lasts at most, however much it is used"
    )
    session_idle_minutes: float = Field(
        30, gt=0, le=24 * 60, description="a sign-in ends after this long without a page"
    )
    acting_session_minutes: float = Field(
        10,
        gt=0,
        le=24 * 60,
        description="a helper's sign-in for someone lasts at most this long (revocation bound)",
    )
    operator_remote: bool = Field(
        False, description="answer /operator/ pages from any address, not only loopback"
    )


class SignInSection(_Section):
    """[signin]: limits on signing in at the charter and at /staff (guessing passwords, floods)."""

    account_failures: int = Field(
        5, ge=1, le=1000, description="failed sign-ins to one account in the window before a lock"
    )
    client_failures: int = Field(
        50, ge=1, le=100_000, description="failed sign-ins from one address before a lock"
    )
    window_minutes: float = Field(
        60, gt=0, le=24 * 60, description="how far back failed sign-ins are counted"
    )
    first_lock_seconds: float = Field(
        60, gt=0, le=3600, description="the first lock; it doubles with each further failure"
    )
    longest_lock_minutes: float = Field(15, gt=0, le=24 * 60, description="the longest lock")
    password_checks_at_once: int = Field(
        2, ge=1, le=64, description="password hashes checked at the same time (argon2 memory)"
    )
    password_wait_seconds: float = Field(
        2, ge=0, le=60, description="how long a sign-in waits for a check before a 503 page"
    )
    attempts_kept_days: float = Field(
        90, gt=0, le=3650, description="sign-in attempts older than this are deleted"
    )


MAX_SERVICE_FILES = 20
# The licences a node can publish its datasets under (publishing/domain.py LICENCES).
LICENCE_IDS = ("OGL-UK-3.0", "CC-BY-4.0", "CC0-1.0", "ODC-BY-1.0")


class StaffSection(_Section):
    """[staff]: the accounts of a service node's staff: their sessions and passwords."""

    session_hours: float = Field(
        9, gt=0, le=24, description="how long a staff sign-in lasts at most, however it is used"
    )
    session_idle_minutes: float = Field(
        15, gt=0, le=24 * 60, description="a staff sign-in ends after this long without a page"
    )
    password_min_length: int = Field(
        12, ge=8, le=128, description="the shortest password 'staff add' accepts"
    )


class ServicesSection(_Section):
    """[services]: the services this node runs (service role), each declared in a file."""

    files: list[Path] = Field(
        [],
        max_length=MAX_SERVICE_FILES,
        description="service definition files, each with its own slug; none: no service pages",
    )
    max_upload_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        le=10 * 1024 * 1024,
        description="largest file a person may upload as an answer, whatever a service allows",
    )

    @field_validator("files")
    @classmethod
    def _each_once(cls, value: list[Path]) -> list[Path]:
        seen: set[Path] = set()
        for path in value:
            if path in seen:
                raise ValueError(f"{str(path)!r} is listed twice; list each file once")
            seen.add(path)
        return value


class PerformanceSection(_Section):
    """[performance]: what a node's figures are made of (docs/performance.md)."""

    currency: str = Field(
        "GBP", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the costs, e.g. GBP"
    )
    digital_cost: float | None = Field(
        None,
        ge=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="what one application completed online costs, in the currency",
    )
    assisted_cost: float | None = Field(
        None,
        ge=0,
        le=1_000_000,
        allow_inf_nan=False,
        validate_default=True,
        description="what one application completed by staff with the person costs",
    )
    refresh_seconds: float = Field(
        300, ge=10, le=86_400, description="how often the current month's figures are computed"
    )

    @field_validator("assisted_cost")
    @classmethod
    def _both_costs(cls, value: float | None, info: ValidationInfo) -> float | None:
        if (value is None) != (info.data.get("digital_cost") is None):
            raise ValueError(
                "digital_cost and assisted_cost go together; set both, or neither (no cost "
                "per transaction is published)"
            )
        return value


class PrisonsSection(_Section):
    """[prisons]: this node keeps the prisons' register of prisoners and their visit slots, and
    runs the prison-visit service's action (service role; docs/services.md)."""

    lead_working_days: int = Field(
        3, ge=0, le=30, description="visits are booked at least this many working days ahead"
    )
    horizon_days: int = Field(
        28, ge=1, le=366, description="and at most this many days ahead (the booking window)"
    )

    @field_validator("horizon_days")
    @classmethod
    def _after_the_lead(cls, value: int, info: ValidationInfo) -> int:
        lead = info.data.get("lead_working_days", 0)
        # The first bookable day is at most the lead and a weekend for each 5 working days.
        if value < lead + 2 * -(-lead // 5):
            raise ValueError(
                f"horizon_days {value} ends before the first bookable day {lead} working days "
                "ahead; make horizon_days larger or lead_working_days smaller"
            )
        return value


MAX_FEEDBACK_PATTERNS = 50
MAX_PATTERN = 200
MAX_ABUSE_WORDS = 500
DEFAULT_ABUSE_WORDS = ["idiot", "idiots", "moron", "morons", "scum", "bastard", "bastards"]


class FeedbackSection(_Section):
    """[feedback]: satisfaction answers and stories at a service node: floods and moderation."""

    submissions_per_client: int = Field(
        10,
        ge=1,
        le=10_000,
        description="answers and stories one address may send in the window before a wait",
    )
    window_minutes: float = Field(
        10, gt=0, le=24 * 60, description="how far back one address's submissions are counted"
    )
    page_size: int = Field(
        20, ge=5, le=100, description="stories on a public page and in an API page"
    )
    titles: list[str] = Field(
        ["Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Lady", "Lord"],
        max_length=100,
        description="titles before a name that flag a story as naming someone (Mr Jones)",
    )
    name_patterns: list[str] = Field(
        [],
        max_length=MAX_FEEDBACK_PATTERNS,
        description="regular expressions (Python re) for personal data a story may hold, each "
        "flagged as such (a case number, a ward name)",
    )
    abuse_words: list[str] = Field(
        DEFAULT_ABUSE_WORDS,
        max_length=MAX_ABUSE_WORDS,
        description="words that flag a story as abusive (whole words, any case)",
    )
    phone_region: str = Field(
        "GB", description="the region whose national phone numbers a story is checked for"
    )

    @field_validator("titles", "abuse_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for word in value:
            if not word.strip() or len(word) > 60 or any(c.isspace() for c in word.strip()):
                raise ValueError(f"{word!r} is not one word of at most 60 characters")
        return value

    @field_validator("name_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        import re

        for pattern in value:
            if len(pattern) > MAX_PATTERN:
                raise ValueError(f"a pattern is longer than {MAX_PATTERN} characters")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from exc
            if compiled.search("") is not None:
                raise ValueError(f"{pattern!r} matches empty text, so it would flag every story")
        return value

    @field_validator("phone_region")
    @classmethod
    def _region(cls, value: str) -> str:
        import phonenumbers

        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phone numbers are known for (GB, IE, FR)")
        return value


class SpendingSection(_Section):
    """[spending]: what of the node's payments it publishes (docs/spending.md): those of at
    least threshold pounds, marking those of at least contracts_threshold."""

    threshold: int = Field(
        500, ge=0, le=1_000_000, description="payments of at least this many pounds are published"
    )
    contracts_threshold: int = Field(
        25_000,
        ge=0,
        le=1_000_000_000,
        description="published payments of at least this many pounds are marked as such",
    )

    @field_validator("contracts_threshold")
    @classmethod
    def _over_the_threshold(cls, value: int, info: ValidationInfo) -> int:
        threshold = info.data.get("threshold", 0)
        if value < threshold:
            raise ValueError(
                f"contracts_threshold {value} is under threshold {threshold}; make it at least "
                f"{threshold}"
            )
        return value


class PublishingSection(_Section):
    """[publishing]: the node's open data (docs/opendata.md)."""

    licence: str = Field(
        "OGL-UK-3.0", description="the licence every dataset is published under, by its id"
    )
    refresh_seconds: float = Field(
        60, ge=0, le=86_400, description="a worker reads a dataset again at most this often"
    )

    @field_validator("licence")
    @classmethod
    def _known_licence(cls, value: str) -> str:
        if value not in LICENCE_IDS:
            raise ValueError(
                f"{value!r} is not a licence this node knows; use one of {', '.join(LICENCE_IDS)}"
            )
        return value


class OpendataSection(_Section):
    """[opendata]: the open data portal's harvest of the federation's datasets (opendata role;
    docs/opendata.md)."""

    harvest_seconds: float = Field(
        3600, ge=10, le=7 * 86_400, description="the portal harvests every member this often"
    )
    max_file_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        le=4 * 1024 * 1024 * 1024,
        description="the largest package or file the portal reads from a member",
    )
    max_datasets: int = Field(
        1000, ge=1, le=100_000, description="the most datasets the portal reads from one member"
    )
    member_seconds: float = Field(
        600, ge=1, le=86_400, description="the longest one member's harvest may take"
    )
    retry_seconds: float = Field(
        60,
        ge=1,
        le=86_400,
        description="after a harvest with a failure, the next one this much later, doubled "
        "after each that fails again, never later than harvest_seconds",
    )


class ServerSection(_Section):
    """[server]: the HTTP server."""

    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = Field(False, description="log every request")


MAX_WORKERS = 64


class NodeServerSection(ServerSection):
    """[server] of a node: the HTTP server, its worker processes and the roles they hold."""

    workers: int = Field(
        1,
        ge=1,
        le=MAX_WORKERS,
        description="worker processes serving the node on its port (more than 1: PostgreSQL)",
    )
    role_retry_seconds: float = Field(
        2,
        gt=0,
        le=60,
        description="how often a standby asks for a role held by another worker, and the "
        "holder checks its lock; a role moves within this long after its worker dies",
    )
    role_dead_peer_seconds: float = Field(
        10,
        ge=2,
        le=600,
        description="how long PostgreSQL waits on a silent holder's connection (a machine "
        "gone) before it frees the holder's roles",
    )

    @field_validator("role_dead_peer_seconds")
    @classmethod
    def _room_to_stop(cls, value: float, info: ValidationInfo) -> float:
        retry = info.data.get("role_retry_seconds", 0)
        # A holder cut off from the database stops its roles' work up to a retry interval and
        # half of this after it last heard from it; PostgreSQL may free its locks for a
        # standby after this. A quarter is kept for the holder's own slowness.
        if retry > value / 4:
            raise ValueError(
                f"role_dead_peer_seconds {value:g} is too short for role_retry_seconds "
                f"{retry:g}: a holder cut off from the database stops its roles' work up to "
                f"{retry:g} s plus half of {value:g} s after it last heard from it, too close "
                f"to the {value:g} s after which PostgreSQL gives its roles to a standby; make "
                "role_dead_peer_seconds at least 4 times role_retry_seconds"
            )
        return value


# The contents of the settings file being validated (settings_from_data), for _TomlSource:
# pydantic-settings asks for sources by class, and a class made per file cost a millisecond of
# CPU per load, about half of it.
_TOML_DATA: ContextVar[dict[str, Any]] = ContextVar("toml_data", default={})  # noqa: B039


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.data


class _FileSettings(BaseSettings):
    """Settings read from a TOML file with environment overrides."""

    model_config = SettingsConfigDict(
        env_prefix="DIGITALSTATE_", env_nested_delimiter="__", extra="forbid"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, _TOML_DATA.get()))


class NodeSettings(_FileSettings):
    """Everything one node needs to run."""

    node: NodeSection
    database: DatabaseSection = DatabaseSection()
    federation: FederationSection
    exchange: ExchangeSection = ExchangeSection()
    server: NodeServerSection = NodeServerSection()
    web: WebSection = WebSection()
    signin: SignInSection = SignInSection()
    staff: StaffSection = StaffSection()
    tellusonce: TellUsOnceSection = TellUsOnceSection()
    log: LogSection = LogSection()
    services: ServicesSection = ServicesSection()
    performance: PerformanceSection = PerformanceSection()
    email: EmailSection | None = None
    prisons: PrisonsSection | None = None
    feedback: FeedbackSection = FeedbackSection()
    spending: SpendingSection = SpendingSection()
    publishing: PublishingSection = PublishingSection()
    opendata: OpendataSection = OpendataSection()
    config_path: Path | None = Field(None, exclude=True)

    @property
    def data_dir(self) -> Path:
        """The data directory, relative paths taken from the config file's folder."""
        base = self.config_path.parent if self.config_path else Path.cwd()
        return (base / self.node.data_dir).resolve()

    @property
    def service_files(self) -> list[Path]:
        """The service definition files, relative paths taken from the config file's folder."""
        base = self.config_path.parent if self.config_path else Path.cwd()
        return [(base / path).resolve() for path in self.services.files]

    @property
    def key_path(self) -> Path:
        """The private key file."""
        return self.data_dir / self.node.key_file

    @property
    def email_password_path(self) -> Path | None:
        """[email] password_file, relative to the config file's folder; None when not set."""
        if self.email is None or not self.email.password_file:
            return None
        base = self.config_path.parent if self.config_path else Path.cwd()
        return (base / self.email.password_file).resolve()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, defaulting to SQLite in the data directory."""
        return self.database.url or f"sqlite:///{self.data_dir / 'node.db'}"

    @property
    def federation_cache_path(self) -> Path:
        """Where the last good federation document is kept."""
        return self.data_dir / self.federation.cache_file


class AnchorSection(_Section):
    """[anchor]: the trust anchor's identity, listener and document policy."""

    federation: str = Field(min_length=1, description="the federation's name")
    base_url: str = Field(pattern=r"^https?://[^/\s]+$", description="public base URL")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8100, ge=1, le=65535, description="TCP port to listen on")
    data_dir: Path = Field(Path("."), description="directory for the key and database")
    key_file: Path = Field(Path("anchor.key"), description="Ed25519 private key, mode 0600")
    validity_hours: float = Field(24, gt=0, description="how long each document version is valid")
    reissue_fraction: float = Field(
        0.5, gt=0, lt=1, description="re-sign once this fraction of the validity has passed"
    )
    reload_seconds: float = Field(
        5, gt=0, description="how often to pick up changes made with the federation commands"
    )


class AnchorSettings(_FileSettings):
    """Everything the trust anchor needs to run."""

    anchor: AnchorSection
    database: DatabaseSection = DatabaseSection()
    server: ServerSection = ServerSection()
    web: EdgeSection = EdgeSection()
    config_path: Path | None = Field(None, exclude=True)

    @property
    def data_dir(self) -> Path:
        """The data directory, relative paths taken from the config file's folder."""
        base = self.config_path.parent if self.config_path else Path.cwd()
        return (base / self.anchor.data_dir).resolve()

    @property
    def key_path(self) -> Path:
        """The anchor's private key file."""
        return self.data_dir / self.anchor.key_file

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, defaulting to SQLite in the data directory."""
        return self.database.url or f"sqlite:///{self.data_dir / 'anchor.db'}"


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "string_pattern_mismatch": "use the documented form",
}


ENV_PREFIX = "DIGITALSTATE_"
# Keys that were settings once, and why they went: a file or variable that still sets one is
# told so, rather than that the key is unknown.
_REMOVED: dict[tuple[str, ...], str] = {
    ("exchange", "bench_unsigned_mirror"): (
        "removed: no node serves the unsigned bench routes; 'digitalstate bench' starts its "
        "own nodes with them"
    ),
}


def _env_name(loc: tuple[int | str, ...]) -> str:
    # A list is set from the environment as one JSON value, so the name stops at the field.
    names = [str(part).upper() for part in loc if not isinstance(part, int)]
    return ENV_PREFIX + "__".join(names)


def _env_source(loc: tuple[int | str, ...]) -> str | None:
    """The set environment variable that supplied the value at loc (it wins over the file)."""
    present = {name.upper() for name in os.environ}  # matched case-insensitively
    names = [str(part).upper() for part in loc if not isinstance(part, int)]
    for end in range(len(names), 0, -1):
        name = ENV_PREFIX + "__".join(names[:end])
        if name in present:
            return name
    return None


def _describe(path: Path, exc: ValidationError) -> str:
    errors = exc.errors()
    # An unknown key is most often a misspelt one that is then also reported missing: the
    # unknown key is the one to name.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in error["loc"]]
    if len(loc) >= 2:
        where = f"[{loc[0]}] {'.'.join(loc[1:])}"
    else:
        where = loc[0] if loc else "(file)"
    message = error["msg"]
    if error["type"] == "string_pattern_mismatch":
        message = f"{error['input']!r} does not have the expected form"
    removed = _REMOVED.get(tuple(loc)) if error["type"] == "extra_forbidden" else None
    if removed:
        message = removed
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    source = None if error["type"] == "missing" else _env_source(error["loc"])
    if source is not None:
        change = "unset" if removed else "correct or unset"
        return (
            f"{path}: {where}: {message} (from the environment variable {source}, which "
            f"overrides the file); fix: {change} {source}{more}"
        )
    fix = _FIXES.get(error["type"], "correct the value") + " in the file"
    if removed:
        fix = "remove it from the file"
    elif error["type"] != "extra_forbidden":  # no variable can make an unknown key known
        fix += f" or set {_env_name(error['loc'])}"
    return f"{path}: {where}: {message}; fix: {fix}{more}"


def _is_complex(model: type[BaseModel], names: list[str]) -> bool:
    """True when the setting at names is a list or table (read from the environment as JSON)."""
    field = model.model_fields.get(names[0])
    if field is None:
        return False
    kind = get_origin(field.annotation) or field.annotation
    is_model = isinstance(kind, type) and issubclass(kind, BaseModel)
    if len(names) > 1:
        return is_model and _is_complex(kind, names[1:])  # type: ignore[arg-type]
    return is_model or kind in (list, tuple, dict, set)


def _unparsable_env(cls: type[BaseModel]) -> str | None:
    """The DIGITALSTATE_ variable holding a list or table that is not valid JSON, if any."""
    for name in sorted(os.environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        names = name[len(ENV_PREFIX) :].lower().split("__")
        if not _is_complex(cls, names):
            continue
        try:
            json.loads(os.environ[name])
        except ValueError:
            return name.upper()
    return None


def _read_toml(path: Path, make_with: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"{path}: no such settings file; make one with '{make_with}'") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the file ({exc.strerror})") from exc


_S = TypeVar("_S", bound=_FileSettings)


def _load(cls: type[_S], path: Path) -> _S:
    make_with = (
        "digitalstate federation init"
        if issubclass(cls, AnchorSettings)
        else "digitalstate node init"
    )
    return settings_from_data(cls, path, _read_toml(path, make_with))


def settings_from_data(cls: type[_S], path: Path, data: dict[str, Any]) -> _S:
    """Validate data as if it were the contents of the settings file at path."""
    bound = _TOML_DATA.set(data)
    try:
        # Both kinds of settings file have config_path; their base does not declare it.
        settings: _S = cls(config_path=path)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_describe(path, exc)) from exc
    except EnvironmentParseError as exc:
        # pydantic-settings reads lists and tables from the environment as JSON.
        name = _unparsable_env(cls) or f"a {ENV_PREFIX} environment variable"
        raise SettingsError(
            f"{path}: {name}: a list or table set from the environment must be JSON; "
            f'fix: write it as JSON (a list as \'["a", "b"]\') or unset it'
        ) from exc
    finally:
        _TOML_DATA.reset(bound)
    return settings


def load_node_settings(path: Path) -> NodeSettings:
    """Read a node's TOML file with environment overrides; raise SettingsError if unusable."""
    return _load(NodeSettings, path)


def load_anchor_settings(path: Path) -> AnchorSettings:
    """Read the trust anchor's TOML file with environment overrides."""
    return _load(AnchorSettings, path)
