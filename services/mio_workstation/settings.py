from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.mesh.settings import ServiceSettings


class MioSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MIO_", extra="ignore")

    port: int = 8003
    database_url: str = "sqlite:///var/mio_workstation/mio_workstation.db"
    regulations_dir: Path | None = Field(default=None, description="regulation files; by default the ones shipped "
                                                                   "in shared/employment/regulations")
    districts: list[str] | None = Field(default=None, description="districts this workstation serves (each is "
                                        "member mio.<district>); by default every district a regulation names")
    default_mode: Literal["auto", "manual"] = Field(default="auto", description="staff mode of a district until set")
    auto_share: float = Field(default=0.5, gt=0, le=1.5,
                              description="simulated staff finish a step after this share of its maximum")
    session_minutes: int = Field(default=480, ge=1, le=24 * 60, description="a staff login lasts a working day")
    challenge_seconds: int = Field(default=300, ge=10, le=3600)
