from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.mesh.settings import ServiceSettings


class NucSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NUC_", extra="ignore")

    port: int = 8006
    database_url: str = "sqlite:///var/nuc_pki/nuc_pki.db"
    leaf_validity_days: int = Field(default=365, ge=1, le=3650,
                                    description="НУЦ issues personal certificates for a year")
    ocsp_validity_minutes: int = Field(default=5, ge=1, le=1440, description="nextUpdate of OCSP answers")
    crl_validity_hours: int = Field(default=24, ge=1, le=168)
    holder_keys: Literal["rsa", "ec"] = Field(default="rsa", description="keys НУЦ makes for holders (PKCS#12): "
                                              "RSA-2048 like the real НУЦ, or P-256 for fast tests")
