"""ЦОН branches as data, and what each offers: the services the regulation files give «через Государственную
корпорацию» (channel ``con``) in the branch's district, with their ЦОН-side steps.

A branch file that does not fit stops ИС ЦОН at start with the file and the field named, like the regulations.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.employment.regulations import Regulation, RegulationBook, RegulationError
from shared.errors import MeshError

BRANCHES_FILE = Path(__file__).with_name("branches.yaml")


class Branch(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)
    name: str = Field(min_length=1, max_length=256)
    region: str = Field(min_length=1)
    district: str = Field(min_length=1, description="the district whose citizens it serves (its ИС МИО)")
    address: str = Field(min_length=1)
    operators: int = Field(default=2, ge=1, le=10, description="seeded operator accounts")


class BranchFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    branches: list[Branch] = Field(min_length=1)


class BranchBook:
    def __init__(self, branches: list[Branch], regulations: RegulationBook) -> None:
        self.all = {b.id: b for b in branches}
        self._regulations = regulations

    @classmethod
    def load(cls, regulations: RegulationBook, path: Path = BRANCHES_FILE) -> BranchBook:
        try:
            data = yaml.safe_load(path.read_text())
            parsed = BranchFile.model_validate(data)
        except (OSError, yaml.YAMLError) as exc:
            raise RegulationError(f"{path.name}: not readable YAML: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(file)"
            raise RegulationError(f"{path.name}: field {where}: {first['msg']}") from None
        ids = [b.id for b in parsed.branches]
        if len(set(ids)) != len(ids):
            raise RegulationError(f"{path.name}: field branches: ids repeat")
        for index, branch in enumerate(parsed.branches):
            served = regulations.for_district(branch.district)
            if not served:
                raise RegulationError(f"{path.name}: field branches.{index}.district: no regulation file serves "
                                      f"{branch.district!r}")
            if branch.region != served[0].region:
                raise RegulationError(f"{path.name}: field branches.{index}.region: {branch.district} is in "
                                      f"{served[0].region}, not {branch.region}")
        return cls(parsed.branches, regulations)

    def get(self, branch_id: str) -> Branch:
        branch = self.all.get(branch_id)
        if branch is None:
            raise MeshError("BRANCH_NOT_FOUND", f"no ЦОН branch {branch_id!r}; there are {', '.join(self.all)}")
        return branch

    def offers(self, branch: Branch) -> list[Regulation]:
        """The services this branch takes applications for: its district's ЦОН-channel regulations."""
        return [r for r in self._regulations.for_district(branch.district) if r.channel == "con"]

    def regulation(self, branch: Branch, service_id: str) -> Regulation:
        """The regulation a branch applies to ``service_id``, or the refusal a citizen or operator gets."""
        regulation = self._regulations.find(district=branch.district, service=service_id, channel="con")
        if regulation is None:
            offered = ", ".join(r.service for r in self.offers(branch)) or "nothing"
            raise MeshError("SERVICE_NOT_OFFERED_AT_CON", f"the {branch.region} region does not offer {service_id} "
                            f"through ЦОН (regulations of {branch.district}); this branch takes: {offered}",
                            details={"offered": [r.service for r in self.offers(branch)]})
        return regulation
