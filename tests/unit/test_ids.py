import datetime as dt

import pytest

from shared.ids import IdentifierError, make_bin, make_iin, parse_bin, parse_iin


@pytest.mark.parametrize(("iin", "birth", "sex"), [
    ("850701300007", dt.date(1985, 7, 1), "M"),
    ("900101400003", dt.date(1990, 1, 1), "F"),
    ("020101500005", dt.date(2002, 1, 1), "M"),
    ("921029350851", dt.date(1992, 10, 29), "M"),
    ("900101300811", dt.date(1990, 1, 1), "M"),  # needs the second check pass
])
def test_valid_iins_decode_birth_date_and_sex(iin, birth, sex):
    info = parse_iin(iin)
    assert (info.birth_date, info.sex) == (birth, sex)


@pytest.mark.parametrize(("iin", "code"), [
    ("85070130000", "IIN_LENGTH"),
    ("8507013000077", "IIN_LENGTH"),
    ("85070130000a", "IIN_NOT_DIGITS"),
    ("８５０７０１３００００７", "IIN_NOT_DIGITS"),  # full-width digits are not ASCII digits
    ("850701700007", "IIN_BAD_CENTURY_DIGIT"),
    ("850701000007", "IIN_BAD_CENTURY_DIGIT"),
    ("851301300007", "IIN_BAD_BIRTH_DATE"),
    ("850230300007", "IIN_BAD_BIRTH_DATE"),
    ("850701300008", "IIN_BAD_CHECK_DIGIT"),
])
def test_each_iin_fault_is_named(iin, code):
    with pytest.raises(IdentifierError) as caught:
        parse_iin(iin)
    assert caught.value.code == code
    assert caught.value.message


def test_an_iin_whose_both_passes_give_ten_is_never_issued():
    never = [serial for serial in range(10_000)
             if make_iin(birth_date=dt.date(1985, 7, 1), sex="M", serial=serial) is None]
    assert never, "the serial range holds at least one unissuable number"
    with pytest.raises(IdentifierError) as caught:
        parse_iin(f"8507013{never[0]:04d}0")
    assert caught.value.code == "IIN_NEVER_ISSUED"


def test_make_iin_agrees_with_parse():
    for serial in range(200):
        iin = make_iin(birth_date=dt.date(2004, 2, 29), sex="F", serial=serial)
        if iin is None:
            continue
        info = parse_iin(iin)
        assert (info.birth_date, info.sex, iin[6]) == (dt.date(2004, 2, 29), "F", "6")


@pytest.mark.parametrize("bin_", ["940140000385", "990140004654"])
def test_valid_bins(bin_):
    assert parse_bin(bin_).entity_type == "resident legal entity"


@pytest.mark.parametrize(("bin_", "code"), [
    ("941340000385", "BIN_BAD_MONTH"),
    ("940170000385", "BIN_BAD_ENTITY_TYPE"),
    ("940149000385", "BIN_BAD_UNIT"),
    ("940140000386", "BIN_BAD_CHECK_DIGIT"),
    ("94014000038", "BIN_LENGTH"),
])
def test_each_bin_fault_is_named(bin_, code):
    with pytest.raises(IdentifierError) as caught:
        parse_bin(bin_)
    assert caught.value.code == code


def test_make_bin_is_valid():
    value = make_bin(year=2010, month=7, serial=5005)
    assert value is not None
    assert parse_bin(value).registered_year == 2010
