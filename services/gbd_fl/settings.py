from __future__ import annotations

import datetime as dt

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.mesh.settings import ServiceSettings


class GbdFlSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GBDFL_", extra="ignore")

    port: int = 8005
    database_url: str = "sqlite:///var/gbd_fl/gbd_fl.db"
    member_id: str = "gbdfl"
    population_seed: int = Field(default=2026, description="the same seed gives the same people")
    population_size: int = Field(default=3000, ge=0, le=200_000)
    population_reference_date: dt.date = Field(
        default=dt.date(2026, 1, 1),
        description="ages and registry facts are drawn as of this date, so a seed means the same people any day")
