"""Settings common to every service (``MESH_*``) and the base each service's own settings class extends.

Outside ``MESH_ENV=dev`` the well-known development secrets are refused: a deployed mesh must be given
its own admin token and key passphrase.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.mesh.failures import RetryPolicy

DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - a documented development default, refused outside dev
DEV_KEY_PASSPHRASE = "dev-key-passphrase"  # noqa: S105 - idem
# The passwords that ship as defaults (deploy/docker-compose.yml's ``mesh``, RabbitMQ's ``guest``): refused in prod,
# in every password field and every URL's login of a service's settings.
DEV_PASSWORDS = frozenset({"mesh", "guest", "postgres"})


def default_passwords(fields: dict[str, Any]) -> list[str]:
    """The names of the fields that hold a shipped default password (``DEV_PASSWORDS``): a secret, or a URL's."""
    found = []
    for name, value in fields.items():
        secret = value.get_secret_value() if isinstance(value, SecretStr) else None
        if secret is None and isinstance(value, str) and "://" in value:
            secret = urlsplit(value).password
        if secret is not None and secret in DEV_PASSWORDS:
            found.append(name)
    return found


class MeshSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESH_", extra="ignore", hide_input_in_errors=True)

    env: Literal["dev", "test", "prod"] = "dev"
    admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    key_passphrase: SecretStr = Field(default=SecretStr(DEV_KEY_PASSPHRASE),
                                      description="encrypts private keys stored in service databases")
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    nuc_url: str = "http://127.0.0.1:8006"
    gateway_url: str = "http://127.0.0.1:8002"
    log_level: str = "INFO"
    ocsp_max_age_s: float = Field(default=60.0, ge=0, description="mesh seconds an OCSP answer is reused")
    sync_timeout_s: float = Field(default=10.0, gt=0, le=120)
    retry_outage_window_s: float = Field(default=900.0, gt=0, description="how long a message is retried while "
                                         "something it needs (broker, database, НУЦ, a provider) is down")
    retry_fault_attempts: int = Field(default=4, ge=1, le=50, description="attempts at a message that fails for "
                                      "any other reason before it is dead-lettered as RETRIES_EXHAUSTED")
    outbox_keep_s: float = Field(default=3600.0, ge=0, description="real seconds a published outbox row is kept")
    inbox_keep_days: float = Field(default=7.0, gt=0, description="days a processed message id is remembered "
                                   "(a redelivered copy within that time is recognised)")
    journal_ring: int = Field(default=5000, ge=10, le=200_000, description="entries the tester's journal keeps in "
                              "each process (the oldest go first)")
    journal_rows: int = Field(default=50_000, ge=0, le=10_000_000, description="entries the tester's journal "
                              "keeps in each service's database behind its ring (the newest; 0: no database)")
    journal_payload_bytes: int = Field(default=8192, ge=256, le=1_048_576, description="the most of one payload "
                                       "(as JSON) a journal entry keeps; larger fields are replaced by their size")
    argon2_cost: Literal["standard", "cheap"] = Field(
        default="standard", description="argon2id's cost for new password hashes: standard (64 MiB, three passes), or "
        "cheap (1 MiB, one pass) for a test's throw-away mesh — refused unless MESH_ENV is test")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(outage_window_s=self.retry_outage_window_s, fault_attempts=self.retry_fault_attempts)

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> MeshSettings:
        if self.env != "dev":
            if self.admin_token.get_secret_value() == DEV_ADMIN_TOKEN:
                raise ValueError("MESH_ADMIN_TOKEN must be set to a private value when MESH_ENV is not dev")
            if self.key_passphrase.get_secret_value() == DEV_KEY_PASSPHRASE:
                raise ValueError("MESH_KEY_PASSPHRASE must be set to a private value when MESH_ENV is not dev")
        if self.argon2_cost == "cheap" and self.env != "test":
            raise ValueError("MESH_ARGON2_COST=cheap is for test meshes only (MESH_ENV=test)")
        if self.env == "prod" and (found := default_passwords({"MESH_AMQP_URL": self.amqp_url})):
            raise ValueError(f"{', '.join(found)}: a default password is refused when MESH_ENV is prod")
        if len(self.admin_token.get_secret_value()) < 12:
            raise ValueError("MESH_ADMIN_TOKEN must be at least 12 characters")
        return self


class ServiceSettings(BaseSettings):
    """Fields every service has; subclasses set their env prefix and defaults."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)  # no secret in a refusal

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="how others reach this service; default http://host:port")
    database_url: str = "sqlite:///var/service.db"
    mesh: MeshSettings = Field(default_factory=MeshSettings)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @model_validator(mode="after")
    def _refuse_default_passwords_in_prod(self) -> ServiceSettings:
        if self.mesh.env == "prod":
            prefix = str(self.model_config.get("env_prefix") or "")
            found = default_passwords({f"{prefix}{name}".upper(): getattr(self, name)
                                       for name in type(self).model_fields if name != "mesh"})
            if found:
                raise ValueError(f"{', '.join(found)}: a default password is refused when MESH_ENV is prod")
        return self
