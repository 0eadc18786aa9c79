from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.mesh.settings import ServiceSettings

DEFAULT_REGISTRY = Path(__file__).with_name("registry.yaml")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHEP_", extra="ignore")

    port: int = 8002
    database_url: str = "sqlite:///var/shep_gateway/shep_gateway.db"
    member_id: str = "shep"
    registry_file: Path = Field(default=DEFAULT_REGISTRY,
                                description="seed registry; entries not changed by the admin API follow it at start")
    batch_size: int = Field(default=256, ge=1, le=2000, description="ingress messages handled per transaction")
    prefetch: int = Field(default=1024, ge=1, le=10000)
    max_sync_deadline_s: float = Field(default=120.0, gt=0)
    clock_heartbeat_s: float = Field(default=15.0, gt=0, description="re-broadcast of the clock state for late joiners")
    route_lookup_max_wait_s: float = Field(default=86_400.0, gt=0, description="how long (real seconds) a request "
                                           "routed by address stays parked while ГБД ФЛ does not answer")
    log_retention_days: float = Field(default=30.0, gt=0, description="days (real time) the message log keeps a "
                                      "record; purged records leave a signed anchor the chain verifies from")
    ingress_stall_s: float = Field(default=30.0, gt=0, description="a batch in work longer than this makes /ready "
                                   "answer 503 (the ingress is stuck)")
    broker_admin_url: str | None = Field(default=None, description="RabbitMQ's management API (http://host:15672): "
                                         "with it the gateway makes one broker account per member; without, "
                                         "accounts are off and everyone shares the login of MESH_AMQP_URL")
    broker_admin_user: str = Field(default="mesh", description="the broker's administrator, for that API")
    broker_admin_password: SecretStr | None = Field(default=None, description="its password (required with the "
                                                    "URL); shown to the admin token holder at "
                                                    "GET /admin/broker/administrator")
    receipt_timeout_s: float = Field(default=60.0, gt=0, description="a delivery on a member's queue not acknowledged "
                                     "by the member within this (real seconds) is delivered again, the wait doubling "
                                     "each time (shared.mesh.receipts)")
    delivery_attempts: int = Field(default=4, ge=1, description="… and after this many attempts it is NOT_DELIVERED: "
                                   "logged, dead-lettered, its sender told. An attempt counts only while the member's "
                                   "queue has a consumer and nothing waiting in it (a member down or behind is "
                                   "waited for, however long)")
    dead_letters_max_length: int = Field(default=10_000, ge=1, description="mesh.dead-letters keeps at most this "
                                         "many messages (the oldest go first; each reason is in its service's log)")
    dead_letters_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, description="… and at most this many "
                                        "bytes of bodies (a body over 64 KiB is kept as its digest and size)")
    peer_urls: str = Field(default="", description="name=url,… the mesh's other services, which the gateway asks "
                           "over HTTP with the admin token (the merged journal, fault rules, a mesh reset and "
                           "snapshots, the settle); empty: MESH_SERVICE_URLS, the addresses GET /mesh gives")
