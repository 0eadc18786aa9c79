"""ГБД ФЛ rules: what a person record must satisfy, and how it is answered to the mesh."""

from __future__ import annotations

from services.gbd_fl.store import Person
from shared.contracts import PersonByIinResponse, PersonData
from shared.errors import MeshError
from shared.ids import parse_iin

NO_DATA = "Сведения по указанному ИИН отсутствуют в ГБД ФЛ"


def check_person(person: Person) -> None:
    """The IIN must be valid and agree with the birth date and sex it encodes."""
    info = parse_iin(person.iin)
    if info.birth_date != person.birth_date:
        raise MeshError("IIN_BIRTH_DATE_MISMATCH", f"IIN encodes birth date {info.birth_date}, record says "
                        f"{person.birth_date}", status=422)
    if info.sex != person.sex:
        raise MeshError("IIN_SEX_MISMATCH", f"IIN encodes sex {info.sex}, record says {person.sex}", status=422)
    if not person.alive and person.death_date is None:
        raise MeshError("DEATH_DATE_REQUIRED", "a deceased person's record carries the date of death", status=422)


def as_answer(person: Person | None) -> PersonByIinResponse:
    if person is None:
        return PersonByIinResponse(found=False, message=NO_DATA)
    return PersonByIinResponse(found=True, person=PersonData(
        iin=person.iin, surname=person.surname, name=person.name, patronymic=person.patronymic,
        birth_date=person.birth_date.isoformat(), sex=person.sex, citizenship=person.citizenship,  # type: ignore[arg-type]
        region=person.region, district=person.district, address=person.address, phone=person.phone,
        alive=person.alive, death_date=person.death_date.isoformat() if person.death_date else None))
