"""A synthetic population, the same for the same seed: who lives where, born when, named how.

Names are common Kazakh and Russian names (synthetic people: any likeness is chance). Patronymics follow
the two forms found in Kazakh documents: Russian-style (-ович/-овна) and Kazakh (-ұлы/-қызы). Every IIN
encodes the person's birth date and sex; serials 0000-8999 belong to the seeded population, 9000-9999 are
left for people the test kit creates later, so the two never collide.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from shared.ids import make_bin, make_iin

SEEDED_SERIALS = range(9000)
KIT_SERIALS = range(9000, 10000)


@dataclass(frozen=True)
class District:
    slug: str
    name: str
    region: str
    region_name: str
    city: str
    streets: tuple[str, ...]
    weight: int


# The seed regions (and Astana, which no seed regulation covers, for "no provider in this district").
DISTRICTS: tuple[District, ...] = (
    District("zhezkazgan", "город Жезказган", "karaganda", "Карагандинская область", "г. Жезказган",
             ("ул. Алашахана", "пр. Металлургов", "ул. Сейфуллина", "ул. Абая", "ул. Желтоксан"), 14),
    District("kokshetau", "город Кокшетау", "akmola", "Акмолинская область", "г. Кокшетау",
             ("ул. Абая", "ул. Ауельбекова", "ул. Назарбаева", "ул. Горького", "ул. Уалиханова"), 14),
    District("stepnogorsk", "город Степногорск", "akmola", "Акмолинская область", "г. Степногорск",
             ("мкр. 1", "мкр. 4", "ул. Строителей", "ул. Мира", "ул. Победы"), 8),
    District("kyzylorda", "город Кызылорда", "kyzylorda", "Кызылординская область", "г. Кызылорда",
             ("ул. Айтеке би", "ул. Желтоксан", "ул. Коркыт Ата", "пр. Абая", "ул. Токмагамбетова"), 16),
    District("mamlyut", "Мамлютский район", "north-kazakhstan", "Северо-Казахстанская область", "г. Мамлютка",
             ("ул. Ленина", "ул. Школьная", "ул. Степная", "ул. Западная", "ул. Новая"), 8),
    District("almaty", "город Алматы", "almaty", "город Алматы", "г. Алматы",
             ("пр. Абая", "ул. Толе би", "пр. Достык", "ул. Жандосова", "мкр. Самал-2"), 34),
    District("astana", "город Астана", "astana", "город Астана", "г. Астана",
             ("пр. Мангилик Ел", "ул. Кенесары", "пр. Республики", "ул. Сыганак"), 6),
)
DISTRICT_BY_SLUG = {d.slug: d for d in DISTRICTS}

KAZAKH_MALE = ("Нурлан", "Ерлан", "Данияр", "Асхат", "Бауыржан", "Айдос", "Ержан", "Арман", "Талгат", "Серик",
               "Марат", "Канат", "Жандос", "Алибек", "Темирлан", "Азамат", "Бекзат", "Дархан", "Ермек", "Нуржан")
KAZAKH_FEMALE = ("Айгерим", "Динара", "Жанна", "Асель", "Гульнара", "Айжан", "Мадина", "Сауле", "Алия", "Камила",
                 "Дана", "Жулдыз", "Айнур", "Гаухар", "Меруерт", "Томирис", "Аружан", "Акбота", "Салтанат", "Карлыгаш")
KAZAKH_SURNAMES = ("Бекмуханов", "Серикбаев", "Жаксылыков", "Кенжебаев", "Тулегенов", "Искаков", "Мусин", "Байжанов",
                   "Садыков", "Кайратов", "Амангельдиев", "Ержанов", "Калиев", "Утепов", "Сапаров", "Омаров",
                   "Касымов", "Есенов", "Абдрахманов", "Жумабаев")
RUSSIAN_MALE = ("Александр", "Сергей", "Андрей", "Дмитрий", "Алексей", "Владимир", "Игорь", "Николай", "Евгений",
                "Павел")
RUSSIAN_FEMALE = ("Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Анна", "Мария", "Юлия",
                  "Екатерина")
RUSSIAN_SURNAMES = ("Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов",
                    "Новиков", "Фёдоров", "Морозов", "Волков", "Лебедев", "Козлов", "Егоров")
# Russian fathers' names whose patronymic does not simply add -ович/-овна.
_RUSSIAN_PATRONYMIC = {"Сергей": "Сергее", "Андрей": "Андрее", "Алексей": "Алексее", "Николай": "Николае",
                       "Евгений": "Евгенье", "Игорь": "Игоре", "Павел": "Павло"}
EMPLOYERS = ("ТОО «Казахмыс Смелтинг»", "АО «Казпочта»", "ТОО «Степногорский горно-химический комбинат»",
             "АО «Кызылордаэнерго»", "ТОО «Мамлютское хлебоприемное предприятие»",
             "АО «Алматинские электрические станции»",
             "КГП «Городская поликлиника №5»", "ТОО «Astana Motors»", "ИП «Сервис плюс»", "ГУ «Отдел образования»")
INSTITUTIONS = ("Карагандинский университет им. Е.А. Букетова", "Кокшетауский университет им. Ш. Уалиханова",
                "Кызылординский университет им. Коркыт Ата", "Казахский национальный университет им. аль-Фараби",
                "Евразийский национальный университет им. Л.Н. Гумилева", "Высший колледж г. Степногорска")
PENSION_AGE = {"M": 63, "F": 61}  # assumed: the 2026 thresholds of the Social Code


@dataclass
class PersonSeed:
    iin: str
    surname: str
    name: str
    patronymic: str | None
    birth_date: dt.date
    sex: str
    district: District
    address: str
    phone: str
    alive: bool = True
    death_date: dt.date | None = None
    employer_bin: str | None = None
    employer_name: str | None = None
    employed_since: dt.date | None = None
    student_at: str | None = None
    study_until: dt.date | None = None
    pension_kind: str | None = None
    pension_since: dt.date | None = None
    tags: list[str] = field(default_factory=list)


def _feminine(surname: str) -> str:
    return surname[:-2] + "ая" if surname.endswith("ий") else surname + "а"


def _patronymic(rng: random.Random, *, father: str, sex: str, russian: bool) -> str:
    if russian:
        stem = _RUSSIAN_PATRONYMIC.get(father, father + "о")
        return stem + ("вич" if sex == "M" else "вна")
    if rng.random() < 0.6:  # the Russian-style form most Kazakh documents still carry
        return father + ("ович" if sex == "M" else "овна")
    return father + ("ұлы" if sex == "M" else "қызы")


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later; 29 February becomes 28 February in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _birth_date(rng: random.Random, *, today: dt.date, min_age: int, max_age: int,
                mode_age: float | None = None) -> dt.date:
    """A birth date giving an age in [min_age, max_age]; with ``mode_age``, ages cluster there (a population
    is younger than a uniform spread of ages would make it)."""
    age = min_age + rng.randrange(max_age - min_age + 1) if mode_age is None else \
        min(max_age, int(rng.triangular(min_age, max_age + 1, mode_age)))
    start = add_years(today, -age - 1) + dt.timedelta(days=1)
    end = add_years(today, -age)
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _phone(rng: random.Random) -> str:
    return f"+77{rng.choice(['01', '02', '05', '07', '08', '47', '71', '75', '76', '77'])}{rng.randrange(10**7):07d}"


def _address(rng: random.Random, district: District) -> str:
    parts = [] if district.region_name.startswith("город") else [district.region_name]
    parts += [district.city, rng.choice(district.streets), f"д. {rng.randint(1, 120)}"]
    if rng.random() < 0.7:
        parts.append(f"кв. {rng.randint(1, 200)}")
    return ", ".join(parts)


def _employer(rng: random.Random) -> tuple[str, str]:
    while True:
        bin_ = make_bin(year=rng.randint(1997, 2022), month=rng.randint(1, 12), serial=rng.randrange(100000))
        if bin_:
            return bin_, rng.choice(EMPLOYERS)


class IinAllocator:
    """Hands out IINs that encode the birth date and sex, never twice."""

    def __init__(self, *, taken: set[str] | None = None) -> None:
        self.taken = set(taken or ())

    def allocate(self, rng: random.Random, *, birth: dt.date, sex: str, serials: range) -> str:
        for _ in range(10_000):
            iin = make_iin(birth_date=birth, sex=sex, serial=rng.choice(serials))  # type: ignore[arg-type]  # sex is "M" or "F" (drawn so)
            if iin is not None and iin not in self.taken:
                self.taken.add(iin)
                return iin
        raise RuntimeError(f"no free IIN left for {birth} {sex}")


def make_person(rng: random.Random, *, today: dt.date, allocator: IinAllocator, serials: range,
                district: District | None = None, sex: str | None = None, min_age: int = 16, max_age: int = 75,
                employed: bool | None = None, mode_age: float | None = None) -> PersonSeed:
    """One synthetic person; the given constraints are honoured, the rest drawn from ``rng``."""
    district = district or rng.choices(DISTRICTS, weights=[d.weight for d in DISTRICTS])[0]
    sex = sex or rng.choice("MF")
    russian = rng.random() < 0.3
    names = (RUSSIAN_MALE if sex == "M" else RUSSIAN_FEMALE) if russian else \
        (KAZAKH_MALE if sex == "M" else KAZAKH_FEMALE)
    surname = rng.choice(RUSSIAN_SURNAMES if russian else KAZAKH_SURNAMES)
    father = rng.choice(RUSSIAN_MALE if russian else KAZAKH_MALE)
    birth = _birth_date(rng, today=today, min_age=min_age, max_age=max_age, mode_age=mode_age)
    person = PersonSeed(
        iin=allocator.allocate(rng, birth=birth, sex=sex, serials=serials),
        surname=surname if sex == "M" else _feminine(surname), name=rng.choice(names),
        patronymic=_patronymic(rng, father=father, sex=sex, russian=russian), birth_date=birth, sex=sex,
        district=district,
        address=_address(rng, district),
        phone=_phone(rng))
    _facts(rng, person, today=today, employed=employed)
    return person


def _facts(rng: random.Random, person: PersonSeed, *, today: dt.date, employed: bool | None) -> None:
    age = age_on(person.birth_date, today)
    if age >= PENSION_AGE[person.sex]:
        person.pension_kind = "age"
        person.pension_since = add_years(person.birth_date, PENSION_AGE[person.sex])
    elif rng.random() < 0.02:
        person.pension_kind = "disability"
        person.pension_since = today - dt.timedelta(days=rng.randint(30, 3000))
    if 16 <= age <= 23 and employed is not True and rng.random() < 0.5:
        person.student_at = rng.choice(INSTITUTIONS)
        person.study_until = dt.date(today.year + rng.randint(0, 3), 6, 30)
    works = employed if employed is not None else (person.student_at is None and age >= 18
                                                   and rng.random() < (0.25 if person.pension_kind else 0.65))
    if works:
        person.employer_bin, person.employer_name = _employer(rng)
        person.employed_since = max(add_years(person.birth_date, 18),
                                    today - dt.timedelta(days=rng.randint(30, 5000)))


def generate_population(*, seed: int, size: int, today: dt.date) -> list[PersonSeed]:
    """``size`` people, identical for identical (seed, size, today): ``today`` is the reference date."""
    rng = random.Random(seed)  # noqa: S311 - reproducible on purpose: a seed names a population
    allocator = IinAllocator()
    people = []
    for _ in range(size):
        person = make_person(rng, today=today, allocator=allocator, serials=SEEDED_SERIALS, min_age=0, max_age=90,
                             mode_age=28)
        if age_on(person.birth_date, today) >= 20 and rng.random() < 0.01:
            person.alive = False
            person.death_date = today - dt.timedelta(days=rng.randint(1, 3000))
        people.append(person)
    return people


_LATIN = {"а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
          "з": "z", "и": "i", "й": "i", "к": "k", "қ": "k", "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o",
          "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "u", "ү": "u", "ф": "f", "х": "kh",
          "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "і": "i", "ь": "", "э": "e",
          "ю": "iu", "я": "ia"}


def latin(text: str) -> str:
    """Latin spelling as in Kazakh passports (ICAO 9303 with Kazakh letters folded; assumed)."""
    out = []
    for char in text:
        low = char.lower()
        mapped = _LATIN.get(low, char)
        out.append(mapped.upper() if char != low else mapped)
    return "".join(out).upper()
