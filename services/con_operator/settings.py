from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.mesh.contracts import MAX_DOCUMENT_BYTES
from shared.mesh.settings import ServiceSettings


class ConOperatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CON_", extra="ignore")

    port: int = 8004
    database_url: str = "sqlite:///var/con_operator/con_operator.db"
    member_id: str = "con"
    branches_file: Path | None = Field(default=None, description="ЦОН branches; by default the shipped "
                                                                 "services/con_operator/branches.yaml")
    regulations_dir: Path | None = Field(default=None, description="the regulation files whose ЦОН channel the "
                                         "branches offer; by default ИС МИО's shipped ones")
    session_minutes: int = Field(default=480, ge=1, le=24 * 60, description="an operator's login lasts a shift")
    challenge_seconds: int = Field(default=300, ge=10, le=3600)
    registry_timeout_s: float = Field(default=10.0, gt=0, le=60, description="deadline of the ГБД ФЛ look-up at "
                                      "intake; past it the operator is told to try again")
    max_scan_bytes: int = Field(default=MAX_DOCUMENT_BYTES, ge=1024, le=MAX_DOCUMENT_BYTES,
                                description="a scan travels with the application: at most the copy limit")
    tickets_per_minute: int = Field(default=30, ge=1, le=10_000, description="tickets one address may take a "
                                    "minute at the kiosk")
