from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.mesh.settings import ServiceSettings


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite:///var/portal/portal.db"
    member_id: str = "portal"
    session_minutes: int = Field(default=60, ge=1, le=24 * 60, description="mesh minutes a login lasts")
    challenge_seconds: int = Field(default=300, ge=10, le=3600, description="mesh seconds to sign an EDS challenge")
    max_failed_logins: int = Field(default=5, ge=1, le=100, description="wrong passwords in a row before lock-out")
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    anonymous_registrations_per_minute: int = Field(default=10, ge=1, le=10_000, description="password "
                                                    "registrations a minute from one address without the admin token")
    registry_timeout_s: float = Field(default=10.0, gt=0, le=60, description="deadline of ГБД ФЛ look-ups")
    channel_check_timeout_s: float = Field(default=3.0, gt=0, le=60, description="how long an application waits "
                                           "for ГБД ФЛ's district to refuse an unoffered channel at once; past it "
                                           "the gateway and ИС МИО refuse it later")
    regulations_dir: Path | None = Field(default=None, description="the regulation files the catalogue and the "
                                         "checks read; by default ИС МИО's shipped ones")
    anonymous_verifications_per_minute: int = Field(default=30, ge=1, le=10_000, description="document "
                                                    "verifications (POST /documents/verify) a minute from one address")
    document_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                                    description="the largest document (JSON, PDF or QR payload) verification reads")
    document_verify_url: str | None = Field(default=None, description="the verification address printed in a PDF "
                                            "whose signed data is too large for its QR code; by default "
                                            "<public URL>/documents/verify")
