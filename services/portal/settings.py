from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite:///var/portal/portal.db"
    member_id: str = "portal"
