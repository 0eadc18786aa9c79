from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ConOperatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CON_", extra="ignore")

    port: int = 8004
    database_url: str = "sqlite:///var/con_operator/con_operator.db"
    member_id: str = "con"
