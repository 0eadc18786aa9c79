from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class GbdFlSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GBDFL_", extra="ignore")

    port: int = 8005
    database_url: str = "sqlite:///var/gbd_fl/gbd_fl.db"
    member_id: str = "gbdfl"
