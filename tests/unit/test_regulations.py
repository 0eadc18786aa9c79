"""Regulations as data: every shipped file loads; a broken file is refused naming the file and the field, and
the service does not start on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meshkit.mesh_runner import REPO_ROOT
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook, RegulationError, load_file

SHIPPED = sorted(REGULATIONS_DIR.glob("*.yaml"))
BASE = "zhezkazgan.job-seeker-registration.office"


def test_every_shipped_file_loads_and_each_seed_row_has_one():
    book = RegulationBook.load()
    assert len(book.all) == len(SHIPPED) == 16
    channels = {(r.service, r.channel, d) for r in book.all.values() for d in r.districts}
    assert ("employment.unemployed-certificate", "con", "mamlyut") in channels
    assert ("employment.active-measures-referral", "portal", "stepnogorsk") in channels
    assert book.districts == ["kokshetau", "stepnogorsk", "almaty", "kyzylorda", "mamlyut", "zhezkazgan"]
    for regulation in book.all.values():
        assert all(step.source for step in regulation.steps), regulation.id
    assert book.roles_in("zhezkazgan") == {"clerk", "head", "executor"}


def _broken(tmp_path: Path, change, *, name: str = BASE) -> Path:
    data = yaml.safe_load((REGULATIONS_DIR / f"{BASE}.yaml").read_text())
    change(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _drop_max(data: dict) -> None:
    del data["steps"][1]["max"]


def _both_units(data: dict) -> None:
    data["steps"][0]["max"] = {"minutes": 5, "workingDays": 1, "counting": "include_acceptance"}


def _swap_steps(data: dict) -> None:
    data["steps"][3], data["steps"][4] = data["steps"][4], data["steps"][3]


@pytest.mark.parametrize(("change", "says"), [
    (_drop_max, "field steps.1.max: Field required"),
    (lambda d: d["steps"][2].update(role="janitor"), "field steps.2.role"),
    (_both_units, "field steps.0.max: Value error, give exactly one of minutes or workingDays"),
    (lambda d: d["steps"][0]["max"].update(minutes=0), "field steps.0.max.minutes"),
    (_swap_steps, "steps must run in the order accept → assign → decide → sign → issue"),
    (lambda d: d["signature"].update(role="executor"), "the signing step's role is head"),
    (lambda d: d.update(term={"workingDays": 3, "counting": "sometimes", "source": "x"}), "field term.counting"),
    (lambda d: d.update(service="employment.nothing"), "service must be one of"),
    (lambda d: d.update(organisations={"atlantis": {"name": "x", "bin": "123456789012"}}), "atlantis"),
    (lambda d: d.update(surprise=1), "field surprise: Extra inputs are not permitted"),
])
def test_a_broken_file_is_named_with_its_field(tmp_path: Path, change, says):
    path = _broken(tmp_path, change)
    with pytest.raises(RegulationError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path.name}: ")
    assert says in str(caught.value)


REFERRAL = "kyzylorda.active-measures-referral.office"


def _referral(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((REGULATIONS_DIR / f"{REFERRAL}.yaml").read_text())
    change(data)
    path = tmp_path / f"{REFERRAL}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_referral_kinds_and_issuer_are_the_seeds():
    book = RegulationBook.load()
    assert book.all["kyzylorda.active-measures-referral.portal"].referral_kinds == \
        ("employment", "youth-practice", "social-jobs", "public-works")  # seed 002 п. 3: four kinds
    assert len(book.all["akmola.active-measures-referral.office"].referral_kinds or ()) == 6  # seed 001 п. 3
    assert all((r.referral_kinds is not None) == (r.service == "employment.active-measures-referral")
               for r in book.all.values())
    assert book.all["almaty.unemployed-registration.office"].issuer == \
        "Управление социального благосостояния города Алматы"
    assert book.all["akmola.active-measures-referral.office"].issuer is None  # each district's own department
    assert [r.id for r in book.all.values() if r.may_refuse_acceptance] == ["kyzylorda.job-seeker-registration.office"]


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d.pop("referralKinds"), "referralKinds is given for employment.active-measures-referral"),
    (lambda d: d.update(referralKinds=[]), "referralKinds names at least one kind"),
    (lambda d: d.update(referralKinds=["employment", "space-flight"]), "space-flight not among"),
    (lambda d: d.update(referralKinds=["employment", "employment"]), "referralKinds repeat"),
    (lambda d: d.update(issuer=""), "field issuer"),
])
def test_a_referral_file_names_the_kinds_it_offers(tmp_path: Path, change, says):
    with pytest.raises(RegulationError, match=says):
        load_file(_referral(tmp_path, change))


def test_only_a_referral_file_names_referral_kinds(tmp_path: Path):
    with pytest.raises(RegulationError, match="and only for it"):
        load_file(_broken(tmp_path, lambda d: d.update(referralKinds=["employment"])))


def test_a_file_is_named_after_its_id(tmp_path: Path):
    path = _broken(tmp_path, lambda d: None, name="something-else")
    with pytest.raises(RegulationError, match=r"something-else.yaml: field id: is 'zhezkazgan"):
        load_file(path)


def test_two_files_may_not_claim_the_same_district_service_and_channel(tmp_path: Path):
    _broken(tmp_path, lambda d: None)
    _broken(tmp_path, lambda d: d.update(id="copy.job-seeker-registration.office"),
            name="copy.job-seeker-registration.office")
    with pytest.raises(RegulationError, match="field districts: zhezkazgan already has"):
        RegulationBook.load(tmp_path)


def test_the_service_does_not_start_on_a_broken_file(tmp_path: Path):
    _broken(tmp_path, _drop_max)
    env = {**os.environ, "MIO_REGULATIONS_DIR": str(tmp_path), "MIO_DATABASE_URL": f"sqlite:///{tmp_path}/mio.db"}
    started = subprocess.run([sys.executable, "-m", "uvicorn", "--factory", "services.mio_workstation.main:create_app",
                              "--port", "0"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
                             check=False)
    assert started.returncode != 0
    assert f"RegulationError: {BASE}.yaml: field steps.1.max: Field required" in started.stderr


@pytest.mark.parametrize(("name", "change", "says"), [
    (BASE, lambda d: d.update(registerKeeper={"role": "specialist", "source": "x"}), "specialist has no step"),
    (BASE, lambda d: d.update(registerKeeper={"role": "executor"}), "field registerKeeper.source"),
    ("akmola.active-measures-referral.office", lambda d: d.update(
        service="employment.active-measures-referral", referralKinds=["employment"],
        registerKeeper={"role": "executor", "source": "x"}), "registerKeeper belongs to a regulation that puts"),
])
def test_the_register_keeper_is_a_role_of_a_registration_file(tmp_path: Path, name, change, says):
    """Issue 17: who closes cards on «Еңбек нарығы» is regulation data — the role a registration file names as
    the one entering people there — and a file naming it wrongly does not load."""
    with pytest.raises(RegulationError, match=says):
        load_file(_broken(tmp_path, lambda d: (change(d), d.update(id=name)), name=name))


def test_each_district_keeps_the_register_by_the_roles_its_registration_files_name():
    book = RegulationBook.load()
    assert {d: book.register_keepers(d) for d in book.districts} == {
        "kyzylorda": ["executor"], "zhezkazgan": ["executor"], "almaty": ["centre_specialist", "specialist"],
        "mamlyut": [], "kokshetau": [], "stepnogorsk": []}  # 003 and 001 register nobody: no card is closed there
