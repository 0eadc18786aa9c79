from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

SEED_DISTRICTS = ["zhezkazgan", "kokshetau", "stepnogorsk", "kyzylorda", "mamlyut", "almaty"]


class MioSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MIO_", extra="ignore")

    port: int = 8003
    database_url: str = "sqlite:///var/mio_workstation/mio_workstation.db"
    districts: list[str] = Field(default_factory=lambda: list(SEED_DISTRICTS),
                                 description="districts this workstation serves; each is member mio.<district>")

    @property
    def member_ids(self) -> list[str]:
        return [f"mio.{d}" for d in self.districts]
