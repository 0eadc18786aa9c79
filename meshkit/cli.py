"""meshctl — the test-identity kit on the command line.

    meshctl new citizen --district almaty --age 30 --unemployed     # prints the citizen, saves its files
    meshctl --url http://localhost:8002 new citizen                # a mesh found through its gateway (compose)
    meshctl login --citizen var/citizens/<iin>                     # password login; --eds for EDS
    meshctl sign --citizen var/citizens/<iin> form.json            # base64 CMS over the canonical JSON
    meshctl profile --citizen var/citizens/<iin>                   # what ГБД ФЛ holds, through the portal
    meshctl apply --citizen var/citizens/<iin> --service employment.job-seeker-registration
    meshctl mode zhezkazgan manual                                 # ИС МИО staff act through the API
    meshctl act ZHZ-2026-000001 accept --as clerk                   # one step action by a seeded staff member
    meshctl act ZHZ-2026-000001 decide --as executor --decision approve
    meshctl act ZHZ-2026-000001 sign --as head                      # fetches the draft, signs it with EDS
    meshctl clock --working-days 3                                 # mesh-wide; also --seconds, --speed, --reset
    meshctl clock --settle                                         # skip to each scheduled step until none is left
    meshctl settle ZHZ-2026-000001 --timeout 60s                   # or a correlation id: until final and heard
    meshctl wait ZHZ-2026-000001 --status COMPLETED --timeout 30s  # or a correlation id; `apply --wait STATUS` too
    meshctl service kill gbd_fl                                    # a crash; the launcher restarts it
    meshctl service stop shep_gateway / start shep_gateway         # a member down on purpose, then back
    meshctl mail --to name@example.kz --kind email                 # the mesh's SMS and e-mail outbox; --number N
    meshctl centre visit --branch mamlyut --citizen var/citizens/<iin> --service employment.unemployed-certificate \
        --field periodFrom=2026-01-01 --field periodTo=2026-06-30 --settle   # a whole ЦОН visit, handed out
    meshctl centre tickets mamlyut                                 # the branch's queue; `meshctl new operator`
    meshctl scenario add gbdfl:no-data --ttl 10m                   # a scenario; `apply --scenario <id>` names it
    meshctl verify result.pdf                                      # a document, PDF or QR payload: does it hold?
    meshctl soap enrol portal.my-system --endpoint http://host:9000/AsyncChannelClient \
        --grant employment.job-seeker-registration               # a system written for ШЭП (docs/soap.md)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from meshkit.journal_kit import WaitTimedOut
from meshkit.mesh_runner import REPO_ROOT
from meshkit.sdk import Citizen, KitError, Mesh, verification_failures
from shared.pki.signing import SignerIdentity, sign_json

app = typer.Typer(help="Drive a running egov-mesh: mint test citizens, sign, log in.", no_args_is_help=True)
new_app = typer.Typer(help="Create test identities.", no_args_is_help=True)
app.add_typer(new_app, name="new")
registry_app = typer.Typer(help="The gateway registry: grant services, reset entries to the seed.",
                           no_args_is_help=True)
app.add_typer(registry_app, name="registry")
snapshot_app = typer.Typer(help="Named snapshots of the mesh's state: export to a file, import into a mesh.",
                            no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")
centre_app = typer.Typer(help="ИС ЦОН: a whole visit at a branch, the queue.", no_args_is_help=True)
app.add_typer(centre_app, name="centre")
scenario_app = typer.Typer(help="Scenarios per flow: outcomes forced for the flows that name one (docs/scenarios.md).",
                           no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")

MeshOption = Annotated[Path | None, typer.Option("--mesh", help="mesh.json written by `make run` "
                                                                  "(default var/mesh.json or $MESH_FILE)")]
CitizenOption = Annotated[Path, typer.Option("--citizen", help="a directory written by `meshctl new citizen`")]


_TARGET: dict[str, str | None] = {"url": None, "admin_token": None}


@app.callback()
def _where(
    url: Annotated[str | None, typer.Option("--url", envvar="MESH_URL", help="the gateway of a running mesh, e.g. "
                                            "http://localhost:8002 (docker compose): asked where the rest is, "
                                            "instead of reading mesh.json")] = None,
    admin_token: Annotated[str | None, typer.Option("--admin-token", envvar="MESH_ADMIN_TOKEN", show_default=False,
                                                    help="with --url: the mesh's admin token")] = None,
) -> None:
    """Drive a running egov-mesh: mint test citizens, sign, log in."""
    _TARGET.update(url=url, admin_token=admin_token)


def _open(mesh: Path | None) -> Mesh:
    """The mesh this command drives: --mesh's file when given, else --url's gateway, else var/mesh.json."""
    if mesh is None and _TARGET["url"]:
        return Mesh.from_url(_TARGET["url"], admin_token=_TARGET["admin_token"])
    return Mesh.from_file(mesh)


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _fail(exc: KitError) -> None:
    typer.echo(json.dumps({"code": exc.code, "message": exc.message, "status": exc.status}, ensure_ascii=False),
               err=True)
    raise typer.Exit(code=1)


@new_app.command("citizen")
def new_citizen(
    district: Annotated[str | None, typer.Option(help="district code, e.g. almaty, mamlyut")] = None,
    region: Annotated[str | None, typer.Option(help="region code, e.g. akmola")] = None,
    age: Annotated[int | None, typer.Option(help="exact age in years")] = None,
    sex: Annotated[str | None, typer.Option(help="M or F")] = None,
    employed: Annotated[bool | None, typer.Option("--employed/--unemployed", help="employment status")] = None,
    register: Annotated[bool, typer.Option("--register/--no-register", help="create the portal account")] = True,
    out: Annotated[Path | None, typer.Option(help="where to save (default var/citizens/<iin>)")] = None,
    mesh: MeshOption = None,
) -> None:
    """A citizen: a ГБД ФЛ person, НУЦ signing + authentication certificates (PKCS#12), a portal account."""
    try:
        with _open(mesh) as kit:
            citizen = kit.new_citizen(district=district, region=region, age=age, sex=sex, employed=employed,
                                      register=register)
    except KitError as exc:
        _fail(exc)
        return
    directory = citizen.save(out or REPO_ROOT / "var" / "citizens" / citizen.iin)
    _print({"iin": citizen.iin, "fullName": " ".join(filter(None, [citizen.surname, citizen.name,
                                                                  citizen.patronymic])),
            "birthDate": citizen.birth_date, "sex": citizen.sex, "district": citizen.district,
            "password": citizen.password, "pkcs12Password": citizen.pkcs12_password,
            "signingP12": str(directory / "signing.p12"), "authP12": str(directory / "auth.p12"),
            "directory": str(directory), "registered": citizen.password is not None})


@app.command()
def login(
    citizen: Annotated[Path | None, typer.Option("--citizen", help="a directory from `meshctl new citizen`")] = None,
    iin: Annotated[str | None, typer.Option(help="with --password, instead of --citizen")] = None,
    password: Annotated[str | None, typer.Option(help="the portal password")] = None,
    eds: Annotated[bool, typer.Option("--eds", help="log in with the authentication certificate")] = False,
    mesh: MeshOption = None,
) -> None:
    """Log in to the portal; prints the session token."""
    try:
        with _open(mesh) as kit:
            if eds:
                if citizen is None:
                    raise typer.BadParameter("--eds needs --citizen")
                session = kit.login_eds(Citizen.load(citizen))
            else:
                person = Citizen.load(citizen) if citizen else None
                who, secret = (person.iin, person.password) if person else (iin, password)
                if not who or not secret:
                    raise typer.BadParameter("give --citizen, or --iin and --password")
                session = kit.login(who, secret)
    except KitError as exc:
        _fail(exc)
        return
    _print({"iin": session.iin, "token": session.token, "method": session.method, "expiresAt": session.expires_at})


@app.command()
def profile(citizen: CitizenOption, eds: Annotated[bool, typer.Option("--eds")] = False,
            mesh: MeshOption = None) -> None:
    """Log in as the citizen and print their data as ГБД ФЛ holds it."""
    try:
        with _open(mesh) as kit:
            person = Citizen.load(citizen)
            session = kit.login_eds(person) if eds or person.password is None else kit.login(person.iin,
                                                                                             person.password)
            _print(session.profile())
    except KitError as exc:
        _fail(exc)


@app.command()
def sign(
    payload: Annotated[Path, typer.Argument(help="a JSON file; its RFC 8785 form is what gets signed")],
    citizen: Annotated[Path | None, typer.Option("--citizen", help="sign as this citizen")] = None,
    p12: Annotated[Path | None, typer.Option("--p12", help="or with any PKCS#12 file")] = None,
    password: Annotated[str | None, typer.Option(help="the PKCS#12 password, with --p12")] = None,
    usage: Annotated[str, typer.Option(help="sign (signing key) or auth (authentication key)")] = "sign",
    machine_time: Annotated[bool, typer.Option("--machine-time", help="stamp this machine's clock, not the mesh's, "
                                               "as signingTime")] = False,
    mesh: MeshOption = None,
) -> None:
    """Sign a JSON payload: prints {"payload", "signature", "signingTime", "clock"} (detached CMS, base64). The
    signingTime is the running mesh's time (its clock may be days ahead: a result document is judged at it), or
    this machine's with --machine-time or when no mesh answers."""
    value = json.loads(payload.read_text())
    at, clock = None, "machine"
    if not machine_time:
        try:
            with _open(mesh) as kit:
                at, clock = kit.now(), "mesh"
        except (KitError, httpx.HTTPError):
            pass
    if citizen is not None:
        signature = Citizen.load(citizen).sign(value, usage=usage, at=at)
    elif p12 is not None:
        signature = sign_json(value=value, signer=SignerIdentity.from_pkcs12(data=p12.read_bytes(), password=password),
                              at=at)
    else:
        raise typer.BadParameter("give --citizen or --p12")
    _print({"payload": value, "signature": signature, "signingTime": (at or dt.datetime.now(dt.UTC)).isoformat(),
            "clock": clock})


WhereOption = Annotated[list[str] | None, typer.Option(
    "--where", metavar="FILTER=VALUE", help="a journal filter, repeatable: correlationId=…, service=portal, "
    "kind=consumed, messageType=NOTIFICATION, payload.status=COMPLETED, … (docs/journal.md)")]


def _filters(items: list[str] | None) -> dict[str, str]:
    """``--where key=value`` pairs: the journal's own filter names (the gateway refuses one it does not know)."""
    pairs = [item.split("=", 1) for item in items or []]
    if any(len(pair) != 2 or not pair[0] for pair in pairs):
        raise typer.BadParameter("--where takes FILTER=VALUE, e.g. --where service=portal")
    return dict(pairs)


def _seconds(text: str) -> float:
    """``30``, ``30s``, ``2m``, ``1h`` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: a duration such as 30, 30s, 2m, 1h") from None


@app.command()
def apply(
    citizen: CitizenOption,
    service: Annotated[str, typer.Option(help="e.g. employment.job-seeker-registration")],
    district: Annotated[str | None, typer.Option(help="by default the gateway routes to the registered "
                                                      "address")] = None,
    field: Annotated[list[str] | None, typer.Option(help="extra form field key=value (periodFrom=2026-01-01, "
                                                         "referralKind=public-works)")] = None,
    wait: Annotated[str | None, typer.Option(
        "--wait", metavar="STATUS", help="return once the case is RECEIVED, IN_PROGRESS, COMPLETED, …")] = None,
    settle: Annotated[bool, typer.Option(
        "--settle", help="skip the mesh clock through the case's scheduled steps (auto mode) while waiting; implies "
                         "--wait COMPLETED")] = False,
    timeout: Annotated[str, typer.Option(help="with --wait: how long, e.g. 30s, 2m")] = "60s",
    scenario: Annotated[str | None, typer.Option(help="a scenario id (`meshctl scenario add`): its outcomes for "
                                                      "this application's flow alone")] = None,
    mesh: MeshOption = None,
) -> None:
    """Sign an application form as the citizen and send it through the portal."""
    extra = dict(item.split("=", 1) for item in field or [])
    wanted = (wait or ("COMPLETED" if settle else "")).upper()
    try:
        with _open(mesh) as kit:
            person = Citizen.load(citizen)
            session = kit.login_eds(person) if person.password is None else kit.login(person.iin, person.password)
            case = session.apply(person.signed_request(service, **extra), district=district, scenario=scenario)
            if not wanted:
                _print(case)
                typer.echo(f"sent; follow it with `meshctl wait {case['correlationId']} --status COMPLETED` (or "
                           f"`meshctl wait --citizen {citizen}`), and skip the mesh clock through its steps with "
                           "`meshctl clock --settle`", err=True)
                return
            if settle:  # straight away: the settle waits for the application on its way, in the mesh
                kit.settle(case["correlationId"], timeout_s=min(_seconds(timeout), 600.0))
            _print(kit.wait_for_status(case["correlationId"], wanted, timeout_s=_seconds(timeout)))
    except KitError as exc:
        _fail(exc)


@app.command()
def wait(
    ref: Annotated[str | None, typer.Argument(
        metavar="[NUMBER|CORRELATION_ID]", help="an application number (ZHZ-2026-000001) or a case's correlation id")
    ] = None,
    citizen: Annotated[Path | None, typer.Option("--citizen", help="instead of a reference: this citizen's latest "
                                                                   "application at the portal")] = None,
    status: Annotated[str, typer.Option(help="RECEIVED, IN_PROGRESS, COMPLETED, REFUSED, NOT_ACCEPTED")] = "COMPLETED",
    timeout: Annotated[str, typer.Option(help="how long to wait, e.g. 30s, 2m")] = "30s",
    where: WhereOption = None,
    count: Annotated[int, typer.Option("--count", help="with --where: until this many entries match")] = 1,
    mesh: MeshOption = None,
) -> None:
    """Wait until a case reaches a status (or passes it); fails if it ends otherwise or takes too long. With
    --where: until the journal has entries matching (docs/journal.md), printed; on timeout the nearest misses."""
    if where:
        if ref is not None or citizen is not None:
            raise typer.BadParameter("--where waits on the journal: name the case as --where correlationId=…")
        try:
            with _open(mesh) as kit:
                wanted: dict[str, Any] = dict(_filters(where))
                _print(kit.wait_until(timeout_s=_seconds(timeout), at_least=count, **wanted))
        except WaitTimedOut as exc:
            typer.echo(exc.message, err=True)
            _print({"nearestMisses": exc.nearest_misses})
            raise typer.Exit(code=1) from None
        except KitError as exc:
            _fail(exc)
        return
    if (ref is None) == (citizen is None):
        raise typer.BadParameter("give an application number or correlation id, or --citizen DIR")
    try:
        with _open(mesh) as kit:
            if citizen is not None:
                ref = kit.latest_application(Citizen.load(citizen))["correlationId"]
            assert ref is not None
            _print(kit.wait_for_status(ref, status.upper(), timeout_s=_seconds(timeout)))
    except KitError as exc:
        _fail(exc)


@app.command()
def journal(
    where: WhereOption = None,
    count: Annotated[bool, typer.Option("--count", help="only how many match")] = False,
    unmatched: Annotated[bool, typer.Option("--unmatched", help="requests nobody answered, deliveries nobody "
                                                                "consumed, dead letters")] = False,
    limit: Annotated[int, typer.Option(help="at most this many entries, the newest")] = 200,
    mesh: MeshOption = None,
) -> None:
    """The whole mesh's journal (every HTTP exchange, envelope and consumed delivery), oldest first: e.g.
    `meshctl journal --where correlationId=… --where kind=envelope` (docs/journal.md lists the filters)."""
    try:
        with _open(mesh) as kit:
            journal = kit.journal_kit
            filters: dict[str, Any] = dict(_filters(where))
            if count:
                _print({"count": journal.count(**filters)})
            elif unmatched:
                _print(journal.unmatched(limit=limit, **filters))
            else:
                _print(journal.find(limit=limit, **filters))
    except KitError as exc:
        _fail(exc)


@app.command()
def explain(
    ref: Annotated[str, typer.Argument(help="a correlation id or an application number")],
    mermaid: Annotated[bool, typer.Option("--mermaid", help="print the Mermaid sequence diagram")] = False,
    svg: Annotated[Path | None, typer.Option("--svg", help="write the diagram drawn as SVG to this file")] = None,
    mesh: MeshOption = None,
) -> None:
    """What happened to a case, hop by hop: the signed log, the journal, ИС МИО's and ИС ЦОН's steps (due, overdue),
    the faults injected — JSON by default (docs/explain.md)."""
    try:
        with _open(mesh) as kit:
            if svg is not None:
                svg.write_text(kit.explain(ref, as_="svg"), encoding="utf-8")
                _print({"svg": str(svg)})
            elif mermaid:
                typer.echo(kit.explain(ref, as_="mermaid"), nl=False)
            else:
                _print(kit.explain(ref))
    except KitError as exc:
        _fail(exc)


@app.command()
def report(
    member: Annotated[str, typer.Argument(help="a member id of the registry, e.g. your own system's")],
    as_json: Annotated[bool, typer.Option("--json", help="the whole report as JSON")] = False,
    mesh: MeshOption = None,
) -> None:
    """How well a member behaves on the mesh — for a tester's own system in a member's place: what it sent and
    received, each refusal (contract violations apart), answers too late, each case's notices missing or out of
    order and past the regulation's term. Exits 1 when it does not conform (docs/conformance.md)."""
    from meshkit.conformance import member_report, summary

    try:
        with _open(mesh) as kit:
            found = member_report(kit, member)
    except KitError as exc:
        _fail(exc)
        return
    if as_json:
        _print(found)
    else:
        typer.echo(summary(found), nl=False)
    if found["problems"]:
        raise typer.Exit(code=1)


@app.command()
def mode(district: str, staff_mode: Annotated[str, typer.Argument(metavar="auto|manual")],
         share: Annotated[float | None, typer.Option(help="auto: share of each step's maximum")] = None,
         mesh: MeshOption = None) -> None:
    """Switch a district's ИС МИО staff between simulated (auto) and API-driven (manual)."""
    try:
        with _open(mesh) as kit:
            kit.set_mode(district, staff_mode, auto_share=share)
    except KitError as exc:
        _fail(exc)
        return
    _print({"district": district, "mode": staff_mode})


@app.command()
def act(
    number: str,
    action: Annotated[str, typer.Argument(metavar="accept|assign|decide|sign|issue")],
    role: Annotated[str, typer.Option("--as", help="the staff role acting: clerk, head, executor, …")],
    decision: Annotated[str | None, typer.Option(help="decide: approve or refuse")] = None,
    reason: Annotated[str | None, typer.Option(help="a refusal's reason")] = None,
    refuse_acceptance: Annotated[bool, typer.Option("--refuse-acceptance", help="accept: refuse it")] = False,
    mesh: MeshOption = None,
) -> None:
    """One step action on an application, by the district's seeded staff member of that role."""
    try:
        with _open(mesh) as kit:
            district = kit.mio_application(number)["district"]
            staff = kit.staff_login(kit.staff(district, role=role))
            if action == "sign":
                result = staff.sign(number)
            else:
                body = {"decision": decision, "reason": reason, "accept": False if refuse_acceptance else None}
                result = staff.act(number, action, **{k: v for k, v in body.items() if v is not None})
    except KitError as exc:
        _fail(exc)
        return
    _print({k: result[k] for k in ("number", "status", "statusText", "decision", "reason")} |
           {"timeline": [{k: t[k] for k in ("step", "role", "actor", "finishedAt", "dueAt", "overdue")}
                         for t in result["timeline"]]})


@app.command()
def clock(
    seconds: Annotated[float | None, typer.Option(help="advance by this many seconds")] = None,
    working_days: Annotated[int | None, typer.Option(help="advance by N Kazakh working days")] = None,
    speed: Annotated[float | None, typer.Option(help="mesh seconds per real second")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="back to real time")] = False,
    force: Annotated[bool, typer.Option("--force", help="even outside the validity of the CA's or members' "
                                                        "certificates (refused otherwise)")] = False,
    settle: Annotated[bool, typer.Option("--settle", help="skip to each scheduled step of simulated staff until "
                                                          "nothing is scheduled")] = False,
    number: Annotated[str | None, typer.Option(help="with --settle: until this application (or correlation id) is "
                                                   "final and heard so; only its steps move the clock")] = None,
    timeout: Annotated[str, typer.Option(help="with --settle: how long at most, e.g. 60s (≤ 600 s)")] = "300s",
    mesh: MeshOption = None,
) -> None:
    """Read the mesh clock, or change it for every service; skipping time, simulated staff do every step whose
    time falls inside the skipped interval, each at its own scheduled time."""
    try:
        with _open(mesh) as kit:
            if settle:
                _print(kit.settle(number, timeout_s=_seconds(timeout)))
                return
            if seconds is None and working_days is None and speed is None and not reset:
                _print(kit.clock())
                return
            changed = kit.advance_clock(seconds=seconds, working_days=working_days, speed=speed, reset=reset,
                                        force=force)
            for warning in changed.get("warnings", []):
                typer.echo(f"warning: {warning}", err=True)
            _print(kit.clock())
    except KitError as exc:
        _fail(exc)


@app.command("reset")
def reset_mesh(
    iin: Annotated[str | None, typer.Option(help="only this citizen's state")] = None,
    district: Annotated[str | None, typer.Option(help="only this district's state")] = None,
    service: Annotated[str | None, typer.Option(help="only this member service's state (portal, mio_workstation, "
                                                     "con_operator, gbd_fl)")] = None,
    mesh: MeshOption = None,
) -> None:
    """Put the whole mesh back to its seed (or one citizen's, district's or service's state), without a restart;
    answers once every service is ready, with each one's duration."""
    try:
        with _open(mesh) as kit:
            _print(kit.reset(iin=iin, district=district, service=service))
    except KitError as exc:
        _fail(exc)


@snapshot_app.command("export")
def snapshot_export(
    name: Annotated[str, typer.Argument(help="the snapshot's name (letters, digits, . _ -)")],
    out: Annotated[Path | None, typer.Option(help="the file (default var/snapshots/NAME.json)")] = None,
    mesh: MeshOption = None,
) -> None:
    """Take a snapshot of every service's state, kept by the gateway under NAME and written to a file."""
    try:
        with _open(mesh) as kit:
            typer.echo(str(kit.snapshot_export(name, out)))
    except KitError as exc:
        _fail(exc)


@snapshot_app.command("import")
def snapshot_import(
    path: Annotated[Path, typer.Argument(help="a snapshot file (meshctl snapshot export)")],
    name: Annotated[str | None, typer.Option(help="keep it under this name (default: the file's)")] = None,
    no_restore: Annotated[bool, typer.Option("--no-restore", help="only keep it; restore later")] = False,
    mesh: MeshOption = None,
) -> None:
    """Give this mesh a snapshot file and put the mesh in its state."""
    try:
        with _open(mesh) as kit:
            _print(kit.snapshot_import(path, name=name, restore=not no_restore))
    except KitError as exc:
        _fail(exc)


@snapshot_app.command("restore")
def snapshot_restore(name: Annotated[str, typer.Argument()], mesh: MeshOption = None) -> None:
    """Put the mesh in the state of a snapshot the gateway keeps."""
    try:
        with _open(mesh) as kit:
            _print(kit.snapshot_restore(name))
    except KitError as exc:
        _fail(exc)


@snapshot_app.command("list")
def snapshot_list(mesh: MeshOption = None) -> None:
    """The snapshots the gateway keeps."""
    try:
        with _open(mesh) as kit:
            _print(kit.snapshots())
    except KitError as exc:
        _fail(exc)


@app.command("settle")
def settle_command(
    ref: Annotated[str | None, typer.Argument(
        metavar="[NUMBER|CORRELATION_ID]", help="the case to settle (straight after apply is fine); none: the whole "
                                                "mesh, until nothing is scheduled")] = None,
    timeout: Annotated[str, typer.Option(help="how long at most, e.g. 60s (≤ 600 s)")] = "300s",
    max_jumps: Annotated[int, typer.Option(help="clock jumps at most")] = 500,
    mesh: MeshOption = None,
) -> None:
    """Run the mesh until nothing is in flight — no message queued or in work, no step due, no outbox row unsent —
    jumping the mesh clock to each scheduled step (of the case, when one is named) until the case is final and
    heard so by the portal or ИС ЦОН (the gateway's POST /admin/settle)."""
    try:
        with _open(mesh) as kit:
            _print(kit.settle(ref, timeout_s=_seconds(timeout), max_jumps=max_jumps))
    except KitError as exc:
        _fail(exc)


@app.command("service")
def service(
    action: Annotated[str, typer.Argument(metavar="status|stop|start|kill|restart")],
    name: Annotated[str | None, typer.Argument(help="rabbitmq, nuc_pki, shep_gateway, portal, mio_workstation, "
                                                     "con_operator or gbd_fl")] = None,
    mesh: MeshOption = None,
) -> None:
    """Take a member down on purpose and bring it back (`make run` only): stop keeps it down until start; kill
    is a crash (SIGKILL), after which the launcher restarts it with back-off."""
    if action not in ("status", "stop", "start", "kill", "restart"):
        raise typer.BadParameter("ACTION is one of status, stop, start, kill, restart")
    try:
        with _open(mesh) as kit:
            _print(kit.service(action, name))
    except KitError as exc:
        _fail(exc)


@registry_app.command("grant")
def registry_grant(
    service_id: Annotated[str, typer.Argument(metavar="SERVICE", help="e.g. gbdfl.person-by-iin")],
    caller: Annotated[list[str] | None, typer.Option(help="a member that may call it (repeat for more)")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="a member that serves it")] = None,
    notify: Annotated[list[str] | None, typer.Option(help="a member notified of its statuses")] = None,
    channel: Annotated[str | None, typer.Option(help="sync or async: only to create a new service")] = None,
    mesh: MeshOption = None,
) -> None:
    """Add members to a service's callers, providers or notified — nobody already there is removed."""
    try:
        with _open(mesh) as kit:
            _print(kit.grant(service_id, callers=caller, providers=provider, notify=notify, channel=channel))
    except KitError as exc:
        _fail(exc)


@registry_app.command("reset")
def registry_reset(
    service: Annotated[str | None, typer.Option(help="reset this service only")] = None,
    member: Annotated[str | None, typer.Option(help="reset this member only")] = None,
    mesh: MeshOption = None,
) -> None:
    """Put one entry, or every entry of the seed registry, back to the seed's version (entries the seed does not
    have — your own members, districts added by regulation files — are kept and listed)."""
    if service and member:
        raise typer.BadParameter("give --service or --member, not both (or neither: the whole seed)")
    kind, entry_id = ("service", service) if service else ("member", member) if member else (None, None)
    try:
        with _open(mesh) as kit:
            _print(kit.reset_registry(kind=kind, entry_id=entry_id))
    except KitError as exc:
        _fail(exc)


@scenario_app.command("add")
def scenario_add(
    rules: Annotated[list[str], typer.Argument(metavar="RULE...", help="gbdfl:no-data, gbdfl:timeout, "
                                               "mio:refuse:<ground>, mio:overdue:<step>, nuc:revoked")],
    ttl: Annotated[str, typer.Option(help="how long it may be named, e.g. 10m, 1h")] = "1h",
    mesh: MeshOption = None,
) -> None:
    """Register a scenario at the gateway; prints it — name its scenarioId with `apply --scenario`."""
    try:
        with _open(mesh) as kit:
            _print(kit.scenarios.add(*rules, ttl_s=round(_seconds(ttl))).out())
    except KitError as exc:
        _fail(exc)


@scenario_app.command("list")
def scenario_list(mesh: MeshOption = None) -> None:
    """The live scenarios."""
    try:
        with _open(mesh) as kit:
            _print([s.out() for s in kit.scenarios.list()])
    except KitError as exc:
        _fail(exc)


@scenario_app.command("remove")
def scenario_remove(scenario_id: Annotated[str, typer.Argument(metavar="SCENARIO_ID")],
                    mesh: MeshOption = None) -> None:
    """Remove a scenario: it can no longer be named (flows that named it go on as normal flows)."""
    try:
        with _open(mesh) as kit:
            _print(kit.scenarios.remove(scenario_id).out())
    except KitError as exc:
        _fail(exc)


@app.command("mesh")
def show_mesh(mesh: MeshOption = None) -> None:
    """Where the running mesh is (from mesh.json)."""
    try:
        info = _open(mesh).info
    except KitError as exc:
        _fail(exc)
        return
    _print({"gateway": info.gateway, "nuc": info.nuc, "portal": info.portal, "gbdFl": info.gbd_fl, "con": info.con,
            "mio": info.mio, "amqpUrl": info.amqp_url})


@app.command("mail")
def mail(
    to: Annotated[str | None, typer.Option("--to", metavar="ADDR", help="an e-mail address or +7XXXXXXXXXX")] = None,
    kind: Annotated[str | None, typer.Option(help="email or sms")] = None,
    number: Annotated[str | None, typer.Option(help="an application number, e.g. ZHZ-2026-000001")] = None,
    correlation_id: Annotated[str | None, typer.Option("--correlation-id", help="a case's correlation id")] = None,
    mail_id: Annotated[int | None, typer.Option("--id", help="one message, with its attachments' content")] = None,
    mesh: MeshOption = None,
) -> None:
    """The mesh's SMS and e-mail outbox (member `mail`, hosted by the portal): what was sent, oldest first."""
    if kind is not None and kind not in ("email", "sms"):
        raise typer.BadParameter("--kind is email or sms")
    try:
        with _open(mesh) as kit:
            if mail_id is not None:
                _print(kit.mail_message(mail_id))
                return
            _print(kit.mail(to=to, kind=kind, application_number=number, correlation_id=correlation_id))
    except KitError as exc:
        _fail(exc)


@new_app.command("operator")
def new_operator(branch: Annotated[str, typer.Option(help="a ЦОН branch, e.g. mamlyut, almaty-almaly")],
                 mesh: MeshOption = None) -> None:
    """Mint a ЦОН operator of a branch (НУЦ employee certificates of the State Corporation, operator role)."""
    try:
        with _open(mesh) as kit:
            operator = kit.operator(branch, new=True)
    except KitError as exc:
        _fail(exc)
        return
    _print({"iin": operator.iin, "branch": operator.branch, "password": operator.password,
            "pkcs12Password": operator.pkcs12_password})


@centre_app.command("tickets")
def centre_tickets(branch: str, every: Annotated[bool, typer.Option("--all", help="not only those waiting")] = False,
                   mesh: MeshOption = None) -> None:
    """A branch's electronic queue: tickets with their waiting (and service) minutes on the mesh clock."""
    try:
        with _open(mesh) as kit:
            _print(kit.tickets(branch, status=None if every else "WAITING"))
    except KitError as exc:
        _fail(exc)


@centre_app.command("visit")
def centre_visit(
    branch: Annotated[str, typer.Option(help="a ЦОН branch (GET /branches), e.g. mamlyut, almaty-almaly")],
    citizen: CitizenOption,
    service: Annotated[str, typer.Option(help="e.g. employment.unemployed-certificate")],
    field: Annotated[list[str] | None, typer.Option(help="form field key=value (periodFrom=2026-01-01, "
                                                         "email=…)")] = None,
    sign_as: Annotated[str, typer.Option("--sign-as", help="operator, or citizen where the regulation allows")
                       ] = "operator",
    representative: Annotated[Path | None, typer.Option(help="a citizen directory: who acts for the citizen")] = None,
    poa_until: Annotated[str | None, typer.Option("--poa-until", help="the power of attorney's last day")] = None,
    hand_out: Annotated[str, typer.Option("--hand-out", help="in-person, email, or none")] = "in-person",
    settle: Annotated[bool, typer.Option("--settle", help="skip the mesh clock through ИС МИО's steps")] = False,
    timeout: Annotated[str, typer.Option(help="how long to wait for ИС МИО, e.g. 60s")] = "60s",
    mesh: MeshOption = None,
) -> None:
    """A whole visit: take a ticket, the branch's operator calls it, intake (ГБД ФЛ), sign, send, wait for the
    result, form it where the regulation gives that to the State Corporation, hand it out, close the ticket."""
    extra: dict[str, Any] = dict(item.split("=", 1) for item in field or [])  # the form fields intake takes
    try:
        with _open(mesh) as kit:
            person = Citizen.load(citizen)
            desk = kit.operator_desk(branch)
            ticket = kit.take_ticket(branch, service)
            desk.call(ticket["id"])
            agent: dict[str, Any] | None = None
            if representative is not None:
                proxy = Citizen.load(representative)
                agent = {"iin": proxy.iin, "name": f"{proxy.surname} {proxy.name}", "powerOfAttorney": {
                    "number": "CLI-1", "issuedOn": kit.clock()["localNow"][:10],
                    "validUntil": poa_until or "2099-12-31", "principalIin": person.iin, "attorneyIin": proxy.iin,
                    "services": [service]}}
            visit = desk.intake(ticket["id"], person.iin, representative=agent, **extra)
            visit = desk.sign(visit, person if sign_as == "citizen" else None)
            if settle:
                received = desk.wait(visit, "RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED",
                                     timeout_s=_seconds(timeout))
                kit.settle(received["applicationNumber"])
                # The skip may outlive the operator's login (a shift of mesh time): logged in again, as on the day.
                desk = kit.operator_desk(branch)
            visit = desk.wait(visit, timeout_s=_seconds(timeout))
            if visit["status"] == "COMPLETED" and any(o["formsResult"] for b in kit.branches() if b["id"] == branch
                                                      for o in b["offers"] if o["serviceId"] == service):
                visit = desk.form_result(visit)
            if hand_out != "none" and visit["status"] in ("COMPLETED", "REFUSED", "NOT_ACCEPTED"):
                visit = desk.hand_out(visit, ticket_id=ticket["id"],
                                      presented_iin=agent["iin"] if agent else person.iin,
                                      by_email=hand_out == "email")
            desk.close(ticket["id"])
    except KitError as exc:
        _fail(exc)
        return
    _print({k: visit[k] for k in ("id", "applicationNumber", "status", "statusText", "state", "delivery",
                                  "deliveredTo")} | {"ticket": ticket["code"], "statuses": [
        s["statusText"] for s in visit["statuses"]], "timeline": [
        {k: t[k] for k in ("step", "max", "startedAt", "finishedAt", "overdue")} for t in visit["timeline"]]})


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="a result document: its PDF, its signed JSON ({content, signature}), "
                                              "or a text file with its QR code's payload; - for standard input")],
    mesh: MeshOption = None,
) -> None:
    """Verify a result document with the portal's public check: content, signature, the issuer it names (a body the
    mesh knows issues it), the signer (that issuer's official, entitled to sign it, named in the content), the
    signing time (CMS signingTime, not before the document's date), the certificate (valid then) and its revocation.
    Prints the answer; exit code 0 when valid, 2 when not, every failure also on stderr as CODE: message."""
    data = typer.get_binary_stream("stdin").read() if str(file) == "-" else file.read_bytes()
    given: bytes | str = data
    if not data.startswith(b"%PDF") and not data.lstrip().startswith(b"{"):
        given = data.decode("utf-8", "replace")  # a QR code's payload
    try:
        with _open(mesh) as kit:
            answer = kit.verify_document(given)
    except KitError as exc:
        _fail(exc)
        return
    _print(answer)
    if not answer.get("valid"):
        for line in verification_failures(answer):
            typer.echo(line, err=True)
        raise typer.Exit(code=2)


if __name__ == "__main__":
    app()


# ---- fault injection (docs/chaos.md) -----------------------------------------------------------------------------
chaos_app = typer.Typer(help="Fault injection: rules on the gateway's pipeline and each service's HTTP edge.",
                        no_args_is_help=True)
app.add_typer(chaos_app, name="chaos")


def _values(items: list[str] | None, option: str) -> dict[str, Any]:
    """``--match``/``--param`` ``key=value`` pairs; a number stays a number (``delayMs=200``)."""
    pairs = [item.split("=", 1) for item in items or []]
    if any(len(pair) != 2 or not pair[0] for pair in pairs):
        raise typer.BadParameter(f"{option} takes KEY=VALUE, e.g. {option} recipient=portal")
    return {key: int(value) if value.isdigit() else value for key, value in pairs}


@chaos_app.command("add")
def chaos_add(
    kind: Annotated[str, typer.Option(help="delay, drop, duplicate, reorder, corrupt-signature, tamper-payload, "
                                           "error, down, slow")],
    where: Annotated[str, typer.Option(help="gateway, or http:<service> (its HTTP edge)")] = "gateway",
    match: Annotated[list[str] | None, typer.Option(
        "--match", metavar="FIELD=VALUE", help="repeatable: serviceId, sender, recipient, messageType, "
        "correlationId, district (gateway); route, method, correlationId (http:…)")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", metavar="NAME=VALUE", help="the fault's, repeatable: delayMs=200, holdMs=5000, "
        "code=Server.ProviderError, status=503")] = None,
    probability: Annotated[float, typer.Option(help="0..1")] = 1.0,
    times: Annotated[int | None, typer.Option(help="the rule ends after this many matches")] = None,
    duration: Annotated[str | None, typer.Option("--for", help="the rule ends after this long: 30s, 2m")] = None,
    seed: Annotated[int | None, typer.Option(help="its random draws repeat with the same seed")] = None,
    rule_id: Annotated[str | None, typer.Option("--id", help="the rule's id (else one is made)")] = None,
    mesh: MeshOption = None,
) -> None:
    """Put a fault-injection rule in place, e.g. `meshctl chaos add --kind drop --match recipient=portal --times 1`;
    prints the rule (its id and seed)."""
    body: dict[str, Any] = {"where": where, "fault": {"kind": kind, **_values(param, "--param")},
                            "match": {k: str(v) for k, v in _values(match, "--match").items()},
                            "probability": probability}
    extra = {"times": times, "forS": _seconds(duration) if duration else None, "seed": seed, "id": rule_id}
    body.update({key: value for key, value in extra.items() if value is not None})
    try:
        with _open(mesh) as kit:
            _print(kit.chaos_kit.add(body).answer)
    except KitError as exc:
        _fail(exc)


@chaos_app.command("list")
def chaos_list(mesh: MeshOption = None) -> None:
    """The rules in place, every service's: what each matched and fired."""
    try:
        with _open(mesh) as kit:
            _print(kit.chaos_kit.rules())
    except KitError as exc:
        _fail(exc)


@chaos_app.command("remove")
def chaos_remove(rule_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
                 every: Annotated[bool, typer.Option("--all", help="every rule, everywhere")] = False,
                 mesh: MeshOption = None) -> None:
    """Remove a rule (a member it had down gets its held deliveries), or --all."""
    if (rule_id is None) == (not every):
        raise typer.BadParameter("give a rule id or --all")
    try:
        with _open(mesh) as kit:
            _print(kit.chaos_kit.clear() if every else kit.chaos_kit.remove(str(rule_id)))
    except KitError as exc:
        _fail(exc)


@chaos_app.command("fired")
def chaos_fired(rule_id: Annotated[str | None, typer.Option("--rule", help="only this rule's")] = None,
                limit: Annotated[int, typer.Option(help="at most this many, the newest")] = 200,
                mesh: MeshOption = None) -> None:
    """Every fault fired (the journal's fault entries), oldest first."""
    try:
        with _open(mesh) as kit:
            _print(kit.chaos_kit.fired(rule_id, limit=limit))
    except KitError as exc:
        _fail(exc)


soap_app = typer.Typer(help="ШЭП's SOAP channels: enrol a system written for ШЭП (docs/soap.md).", no_args_is_help=True)
app.add_typer(soap_app, name="soap")


@soap_app.command("enrol")
def soap_enrol(
    member: Annotated[str, typer.Argument(help="its member id (portal.<name> or con.<name>: the portal's or ИС ЦОН's "
                                               "channel at ИС МИО)")],
    endpoint: Annotated[str | None, typer.Option(help="its own AsyncChannel endpoint: where the gateway pushes "
                                                      "sendMessage")] = None,
    district: Annotated[str | None, typer.Option(help="the district it serves (an ИС МИО's stand-in)")] = None,
    grant: Annotated[list[str] | None, typer.Option("--grant", help="a service it may call and follow "
                                                    "(repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="where to write its key and certificates "
                                             "(default var/soap/<member>, beside the mesh file)")] = None,
    mesh: MeshOption = None,
) -> None:
    """An external SOAP member: a registry entry (door: soap), an RSA key and its НУЦ certificate pinned, its
    senderId and password; writes key.pem, cert.pem, chain.pem, gateway.pem and prints what to configure."""
    import asyncio

    from meshkit.members import MeshEndpoints
    from meshkit.members import grant as grant_service
    from meshkit.soap import enroll_soap, member_directory

    try:
        with _open(mesh) as kit:
            where = MeshEndpoints(gateway=kit.info.gateway, nuc=kit.info.nuc, admin_token=kit.info.admin_token)
    except KitError as exc:
        _fail(exc)
        return

    async def enrol() -> Any:
        enrolled = await enroll_soap(where, member_id=member, soap_endpoint=endpoint, district=district)
        for service in grant or []:
            await grant_service(where, service_id=service, callers=[member], notify=[member])
        return enrolled

    try:
        soap = asyncio.run(enrol())
    except httpx.HTTPError as exc:
        typer.echo(json.dumps({"code": "SOAP_ENROL_FAILED", "message": str(exc)[:500]}, ensure_ascii=False), err=True)
        raise typer.Exit(code=1) from None
    directory = out or member_directory(member)
    soap.write(directory)
    _print({"senderId": soap.member_id, "password": soap.password, "syncUrl": soap.sync_url,
            "syncWsdl": f"{soap.sync_url}?wsdl", "asyncUrl": soap.async_url, "asyncWsdl": f"{soap.async_url}?wsdl",
            "soapEndpoint": endpoint, "granted": grant or [], "key": str(directory / "key.pem"),
            "certificate": str(directory / "cert.pem"), "chain": str(directory / "chain.pem"),
            "gatewayCertificate": str(directory / "gateway.pem"),
            "configure": ["sign each request's soap:Body with key.pem (WS-Security, RSA-SHA256, exc-c14n; "
                          "cert.pem as KeyIdentifier X509v3 or BinarySecurityToken)",
                          "send sender/senderId and sender/password in requestInfo or messageInfo",
                          "check the gateway's signature on every answer and push with gateway.pem",
                          "serve sendMessage at soapEndpoint and answer sendMessageResponse (its receipt); a "
                          "synchronous service it provides comes there as SendMessage: answer SendMessageResponse, "
                          "signed with key.pem"]})
