"""Every code the mesh can answer, defined once: its HTTP status, whose fault it is, and what it means.

HTTP answers are ``{code, message, details}``: the status comes from here (``shared.errors.MeshError`` looks it
up), the message is the raise site's own (it names the value at fault), and this description is the one-line
meaning docs/errors.md lists (``make docs``). The mesh's refusals of messages (``Client.*``: the sender's fault,
``Server.*``: the provider's, the gateway's or the mesh's) travel in ERROR envelopes and dead letters
(``x-refusal-code``); their status is what the code means when an HTTP answer carries it. A member's HTTP API that
made a call through the mesh passes a refusal on under the code it got, as 502 (504 for ``Server.Timeout``, 503 for
a refusal that heals by itself): the status then says which hop failed (``shared.errors.RelayedError``).

``tests/unit/test_error_catalogue.py`` reads the source: a code raised but not here, or here but raised nowhere,
fails it. This module imports nothing of the mesh: every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    """Whose fault a refusal is — what the one who gets it can do."""

    CALLER = "caller"  # the request itself is wrong: change it before sending it again
    STATE = "state"  # the request is fine, but what is stored says no (not found, already done, not yet)
    AUTH = "auth"  # who asks is not proven, or not allowed to
    DEPENDENCY = "dependency"  # something the mesh needs is down or slow: the same request may work later
    MESH = "mesh"  # a fault of ours (a bug, a misconfiguration): nothing the caller can change


CALLER, STATE, AUTH, DEPENDENCY, MESH = Fault


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    about: str


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    fault: Fault
    description: str
    area: Area


HTTP = Area("http", "Every service's HTTP face", "What any route of any of the six services may answer: the request's "
            "shape, size and JSON, the admin token, rate limits, `Idempotency-Key` (`shared/web/`).")
MEMBER = Area("member", "A member on the mesh", "A service that is a member of the mesh, before it is connected or "
              "while a hop it needs is down (`shared/mesh/`, `shared/employment/registry_calls.py`).")
IDS = Area("ids", "Identifiers (IIN, BIN)", "An IIN or a BIN anywhere in a request (path, body, form), checked by "
           "the identifier rules (`shared/ids.py`).")
PKI = Area("pki", "Signatures, certificates, canonical JSON", "Detached CMS signatures, PEM and PKCS#12, the JSON "
           "limits and the canonical form signatures are made over (`shared/pki/`).")
LOGINS = Area("logins", "Logins, sessions and EDS", "The portal's, ИС ЦОН's and ИС МИО's logins: passwords and "
              "lock-out, EDS challenges, sessions; an EDS that is not confirmed (`shared/employment/logins.py`).")
EMPLOYMENT = Area("employment", "Applications, copies and documents", "What the portal, ИС ЦОН and ИС МИО share: the "
                  "form, its electronic copies, result documents (JSON, PDF, QR), mail (`shared/employment/`).")
GATEWAY = Area("gateway", "ШЭП gateway (HTTP)", "The gateway's metaservices, registry administration, broker accounts "
               "and message log (`services/shep_gateway/`).")
NUC = Area("nuc", "НУЦ", "The certification authority: issuing, revoking, searching certificates, OCSP "
           "(`services/nuc_pki/`).")
GBDFL = Area("gbdfl", "ГБД ФЛ", "The population registry and its test-support API (`services/gbd_fl/`).")
PORTAL = Area("portal", "Portal (egov.kz)", "Accounts, applications and the cabinet, document verification "
              "(`services/portal/`).")
CON = Area("con", "ИС ЦОН", "Branches, tickets, the operator's desk: intake, results, hand-out "
           "(`services/con_operator/`).")
MIO = Area("mio", "ИС МИО", "The district offices: inbox, steps and decisions, cards on «Еңбек нарығы», staff "
           "(`services/mio_workstation/`).")
CLIENT = Area("client", "Mesh refusals: `Client.*`", "A message refused because of what its sender sent: in the "
              "ERROR envelope the sender gets and in the dead letter (`x-refusal-code`).")
SERVER = Area("server", "Mesh faults: `Server.*` and dead letters", "A message refused or dead-lettered for a reason "
              "on the provider's, the gateway's or the mesh's side.")
SCENARIOS = Area("scenarios", "Scenarios per flow", "Registering a scenario at the gateway, naming one on a "
                 "submission (`X-Mesh-Scenario`) or a message (`x-mesh-scenario`): docs/scenarios.md "
                 "(`shared/mesh/scenarios.py`, `services/shep_gateway/usecases/scenarios.py`).")
LAUNCHER = Area("launcher", "The launcher (`make run`)", "The control API `meshctl service` talks to, which starts "
                "and stops the services of a local mesh (`meshkit/supervisor.py`).")

AREAS = (HTTP, MEMBER, IDS, PKI, LOGINS, EMPLOYMENT, GATEWAY, NUC, GBDFL, PORTAL, CON, MIO, CLIENT, SERVER, SCENARIOS,
         LAUNCHER)

_ENTRIES: dict[Area, list[tuple[str, int, Fault, str]]] = {
    HTTP: [
        ("REQUEST_INVALID", 422, CALLER, "The request does not fit the route's schema; `details` lists each field "
         "and its problem."),
        ("REQUEST_TOO_LARGE", 413, CALLER, "The body is larger than any request of the mesh (an application with "
         "its copies); refused before it is read."),
        ("JSON_MALFORMED", 422, CALLER, "A body that should be JSON is not."),
        ("JSON_TOO_DEEP", 422, CALLER, "JSON nested deeper than the mesh reads (64 objects and arrays)."),
        ("JSON_STRING_INVALID", 422, CALLER, "A JSON string or key is not text: a lone UTF-16 surrogate or invalid "
         "UTF-8."),
        ("JSON_TOO_MANY_ELEMENTS", 413, CALLER, "JSON holding more objects, arrays and values than the mesh parses "
         "(100,000)."),
        ("NOT_FOUND", 404, CALLER, "No route at this path."),
        ("METHOD_NOT_ALLOWED", 405, CALLER, "The path exists, not with this method."),
        ("UNAUTHORIZED", 401, AUTH, "The route needs credentials that were not given."),
        ("FORBIDDEN", 403, AUTH, "The credentials given do not allow this route."),
        ("HTTP_ERROR", 400, CALLER, "Another refusal of the HTTP framework (a malformed multipart body, say); "
         "answered with the framework's status, 400 unless it says otherwise."),
        ("JOURNAL_FILTER_UNKNOWN", 400, CALLER, "A journal query (`/admin/journal…`) with a filter the journal does "
         "not know: refused, not ignored — a typo would widen the query to everything; `details` lists the known "
         "filters."),
        ("JOURNAL_FILTER_INVALID", 400, CALLER, "A journal filter whose value does not parse (a time that is not ISO "
         "8601, an `afterSeq` that is not a number)."),
        ("JOURNAL_WAIT_TIMEOUT_MISSING", 400, CALLER, "A wait-until (`/admin/journal/wait`) without `timeoutS`: a wait "
         "has a bound."),
        ("JOURNAL_WAIT_TIMEOUT_TOO_LONG", 400, CALLER, "A wait-until whose `timeoutS` is over the maximum (300 s)."),
        ("CHAOS_RULE_FIELD_UNKNOWN", 400, CALLER, "A fault-injection rule (`POST /admin/chaos/rules`) with a field "
         "the rule does not have, at any depth: refused, not ignored — a misspelt `match` field would fire the fault "
         "on everything; `details` names the fields."),
        ("CHAOS_PROBABILITY_OUT_OF_RANGE", 400, CALLER, "A fault-injection rule whose `probability` is not between 0 "
         "and 1."),
        ("CHAOS_RULE_INVALID", 400, CALLER, "A fault-injection rule of the wrong shape: a field of the wrong type, a "
         "missing `where` or `fault.kind`, a kind's parameter out of its range (`details` lists the problems)."),
        ("CHAOS_RULE_MATCHES_NOTHING", 400, CALLER, "A fault-injection rule whose `match` names nothing the mesh "
         "knows (a member, service, district or route that does not exist) or whose `where` is no service of the "
         "mesh: it could never fire."),
        ("CHAOS_KIND_NOT_HERE", 400, CALLER, "A fault kind, or a match field, that does not apply where the rule "
         "is put (`corrupt-signature` on an HTTP edge, `route` at the gateway's pipeline)."),
        ("CHAOS_ERROR_CODE_UNKNOWN", 400, CALLER, "An `error` fault whose `code` is not a catalogued `Server.*` "
         "code, or whose HTTP `status` is not 500–599."),
        ("CHAOS_RULE_EXISTS", 409, STATE, "A fault-injection rule with the `id` of a rule already in place."),
        ("CHAOS_RULE_NOT_FOUND", 404, STATE, "No fault-injection rule has this id (here, or at the service its "
         "`where` names)."),
        ("CHAOS_PEER_UNREACHABLE", 502, DEPENDENCY, "The gateway could not pass a rule for a service's HTTP edge on "
         "to that service (down, or it refused the admin token)."),
        ("ADMIN_TOKEN_MISSING", 401, AUTH, "An admin route without `Authorization: Bearer <admin token>`."),
        ("ADMIN_TOKEN_INVALID", 403, AUTH, "An admin route with a token that is not the mesh's admin token."),
        ("TOO_MANY_ATTEMPTS", 429, CALLER, "Too many requests of this kind from one address in a minute "
         "(registration, logins, challenges, document checks); the message says when to try again."),
        ("IDEMPOTENCY_KEY_INVALID", 400, CALLER, "`Idempotency-Key` is not 1-255 visible ASCII characters."),
        ("IDEMPOTENCY_KEY_REUSED", 422, CALLER, "`Idempotency-Key` was used before for a different request."),
        ("RESET_RUNNING", 409, STATE, "A reset or a snapshot's restore is running already (the mesh's or this "
         "service's): wait for its answer; nothing was changed."),
        ("SNAPSHOT_INVALID", 422, CALLER, "The snapshot does not fit: another service's part, an unknown table or "
         "column, a value of the wrong type; nothing was changed."),
    ],
    MEMBER: [
        ("NOT_READY", 503, DEPENDENCY, "The service has not loaded what it needs yet — НУЦ's certificates, the "
         "organisations its messages are checked against (start-up, or НУЦ or the gateway is down)."),
        ("MEMBER_NOT_STARTED", 503, DEPENDENCY, "The service is not connected to the mesh yet."),
        ("IDENTITY_NOT_READY", 503, DEPENDENCY, "The service has no system certificate from НУЦ yet."),
        ("GATEWAY_KEY_UNKNOWN", 503, DEPENDENCY, "The service does not know the gateway's certificate yet."),
        ("GATEWAY_CERTIFICATE_UNTRUSTED", 502, MESH, "The certificate the gateway gives is not НУЦ's system "
         "certificate of the gateway."),
        ("ENCRYPTION_KEY_UNSUITABLE", 400, CALLER, "A payload cannot be encrypted to this certificate: it has no P-256 "
         "key."),
        ("BROKER_UNAVAILABLE", 503, DEPENDENCY, "ГБД ФЛ could not be asked: the message broker is unreachable."),
        ("GATEWAY_UNAVAILABLE", 503, DEPENDENCY, "ГБД ФЛ could not be asked: the gateway is not answering."),
        ("NUC_UNAVAILABLE", 503, DEPENDENCY, "ГБД ФЛ could not be asked: НУЦ cannot tell whether a certificate on the "
         "way is revoked."),
        ("REGISTRY_UNAVAILABLE", 503, DEPENDENCY, "ГБД ФЛ did not answer."),
    ],
    IDS: [
        ("IIN_LENGTH", 422, CALLER, "An IIN is exactly 12 digits."),
        ("IIN_NOT_DIGITS", 422, CALLER, "An IIN holds digits only."),
        ("IIN_BAD_BIRTH_DATE", 422, CALLER, "An IIN's digits 1-6 are not a date (YYMMDD)."),
        ("IIN_BAD_CENTURY_DIGIT", 422, CALLER, "An IIN's digit 7 (century and sex) is not 1-6."),
        ("IIN_NEVER_ISSUED", 422, CALLER, "No IIN begins with these eleven digits: both check passes give 10."),
        ("IIN_BAD_CHECK_DIGIT", 422, CALLER, "An IIN's check digit is wrong."),
        ("BIN_LENGTH", 422, CALLER, "A BIN is exactly 12 digits."),
        ("BIN_NOT_DIGITS", 422, CALLER, "A BIN holds digits only."),
        ("BIN_BAD_MONTH", 422, CALLER, "A BIN's digits 3-4 are not a month (01-12)."),
        ("BIN_BAD_ENTITY_TYPE", 422, CALLER, "A BIN's digit 5 (entity type) is not 4, 5 or 6."),
        ("BIN_BAD_UNIT", 422, CALLER, "A BIN's digit 6 (head office, branch, …) is not 0-3."),
        ("BIN_NEVER_ISSUED", 422, CALLER, "No BIN begins with these eleven digits: both check passes give 10."),
        ("BIN_BAD_CHECK_DIGIT", 422, CALLER, "A BIN's check digit is wrong."),
    ],
    PKI: [
        ("SIGNATURE_MALFORMED", 422, CALLER, "The signature is not a detached CMS in base64, or its signed "
         "attributes are broken."),
        ("SIGNATURE_NOT_DETACHED", 422, CALLER, "The signature carries its content: the mesh takes detached "
         "signatures only."),
        ("SIGNATURE_NO_SIGNER_CERTIFICATE", 422, CALLER, "The signer's certificate is not inside the signature."),
        ("SIGNATURE_ALGORITHM_UNSUPPORTED", 422, CALLER, "A digest or signature algorithm the mesh does not accept "
         "(SHA-256/384/512 with RSA or ECDSA)."),
        ("SIGNATURE_CONTENT_MISMATCH", 422, CALLER, "The signature is over other content: what was given was "
         "altered after signing."),
        ("SIGNATURE_INVALID", 422, CALLER, "The signature value does not match the signer's key."),
        ("SIGNATURE_MISSING", 422, CALLER, "A SOAP message without a WS-Security signature in its header."),
        ("SIGNATURE_BODY_NOT_REFERENCED", 422, CALLER, "A WS-Security signature with no reference to the SOAP "
         "Body it came with."),
        ("SIGNING_TIME_MALFORMED", 422, CALLER, "The signature's signingTime attribute is not a time."),
        ("SIGNING_TIME_MISSING", 422, CALLER, "A document signed without signingTime: sign with a tool that writes "
         "it (meshctl sign, the SDK, openssl cms -sign)."),
        ("SIGNING_TIME_SKEWED", 422, CALLER, "A document signed far from the mesh clock's now: sign again on the "
         "mesh clock."),
        ("CERTIFICATE_MALFORMED", 422, CALLER, "Not a PEM certificate."),
        ("CANONICAL_FORM_IMPOSSIBLE", 400, CALLER, "A value that has no canonical JSON form (RFC 8785), so cannot "
         "be signed or verified (an integer beyond 2^53, say)."),
        ("PKCS12_UNREADABLE", 400, CALLER, "A PKCS#12 file that cannot be opened: wrong password, or damaged."),
        ("PKCS12_INCOMPLETE", 400, CALLER, "A PKCS#12 file without a private key and its certificate."),
        ("PKCS12_KEY_UNSUPPORTED", 400, CALLER, "A PKCS#12 file whose key is neither RSA nor EC."),
    ],
    LOGINS: [
        ("ACCOUNT_NOT_FOUND", 404, STATE, "No account for this IIN (or this BIN and IIN): register first. Told "
         "precisely to an EDS login and to test tooling; a password login is told PASSWORD_WRONG."),
        ("ACCOUNT_LOCKED", 423, AUTH, "Too many wrong passwords: the account is locked until the time given."),
        ("PASSWORD_WRONG", 401, AUTH, "The IIN or the password is wrong; `details` say how many attempts are left "
         "or until when the account is locked."),
        ("PASSWORD_NOT_SET", 401, AUTH, "The account logs in with EDS only (told precisely to test tooling)."),
        ("CHALLENGE_UNKNOWN", 401, AUTH, "No such EDS challenge for this purpose: ask for a new one."),
        ("CHALLENGE_EXPIRED", 401, AUTH, "The EDS challenge expired: ask for a new one."),
        ("CHALLENGE_REPLAYED", 401, AUTH, "The EDS challenge was used already: ask for a new one."),
        ("SESSION_MISSING", 401, AUTH, "A route that needs a login, without `Authorization: Bearer <token>`."),
        ("SESSION_INVALID", 401, AUTH, "The token is not a current login."),
        ("SESSION_EXPIRED", 401, AUTH, "The login expired: log in again."),
        ("NOT_YOUR_DATA", 403, AUTH, "A login acts only on its own data: another citizen's, or an organisation's "
         "login on a citizen's resource."),
        ("EDS_SIGNATURE_INVALID", 401, AUTH, "The EDS is not confirmed: the signature itself is wrong (malformed, "
         "over other content, or not by its key)."),
        ("EDS_CERTIFICATE_UNTRUSTED", 401, AUTH, "The EDS is not confirmed: its certificate does not chain to НУЦ."),
        ("EDS_CERTIFICATE_NOT_YET_VALID", 401, AUTH, "The EDS is not confirmed: its certificate is not valid yet."),
        ("EDS_CERTIFICATE_EXPIRED", 401, AUTH, "The EDS is not confirmed: its certificate has expired."),
        ("EDS_CERTIFICATE_REVOKED", 401, AUTH, "The EDS is not confirmed: its certificate is revoked."),
        ("EDS_CERTIFICATE_STATUS_UNKNOWN", 401, AUTH, "The EDS is not confirmed: НУЦ does not know its certificate's "
         "status."),
        ("EDS_WRONG_KEY_USAGE", 401, AUTH, "The EDS is made with the wrong key: a signing key where an "
         "authentication key is needed, or the other way round."),
        ("EDS_WRONG_HOLDER", 401, AUTH, "The EDS is of the wrong kind of holder (a citizen's where an employee's is "
         "needed, …)."),
        ("EDS_IIN_MISMATCH", 401, AUTH, "The EDS is of another person than the one named."),
        ("EDS_BIN_MISMATCH", 401, AUTH, "The EDS is of another organisation than the one named."),
        ("EDS_ROLE_MISSING", 401, AUTH, "The EDS certificate lacks the role the act needs (the district's head, an "
         "operator, …)."),
        ("EDS_NOT_ORGANISATION", 401, AUTH, "An organisation's act with a certificate that is not of a person "
         "acting for an organisation."),
        ("EDS_OCSP_UNREACHABLE", 503, DEPENDENCY, "The EDS cannot be checked now: НУЦ's OCSP responder is "
         "unreachable."),
        ("EDS_CLOCK_SKEW", 503, DEPENDENCY, "The EDS cannot be checked now: НУЦ's clock and ours disagree (a mesh "
         "clock change not yet heard)."),
    ],
    EMPLOYMENT: [
        ("FORM_INVALID", 422, CALLER, "The form does not fit its service's fields."),
        ("SERVICE_UNKNOWN", 422, CALLER, "Not one of the employment services this system sends."),
        ("PERSON_DECEASED", 422, STATE, "ГБД ФЛ records the person as deceased."),
        ("SIGNATURE_REQUIRED", 422, CALLER, "The act needs a signature that was not given."),
        ("SIGNER_NOT_ALLOWED", 422, CALLER, "The regulation does not let this signer sign this form."),
        ("EMAIL_REQUIRED", 422, CALLER, "Delivery by e-mail without an address: the form has none and none was "
         "given."),
        ("ATTACHMENT_TOO_MANY", 422, CALLER, "More electronic copies than one form carries."),
        ("ATTACHMENT_TOO_LARGE", 413, CALLER, "An electronic copy larger than the mesh carries."),
        ("ATTACHMENTS_TOO_LARGE", 413, CALLER, "The copies of one application are larger in all than one message "
         "through the gateway carries."),
        ("ATTACHMENT_TYPE_NOT_ALLOWED", 415, CALLER, "An electronic copy of a media type the mesh does not take "
         "(PDF, JPEG, PNG)."),
        ("ATTACHMENT_EMPTY", 422, CALLER, "An electronic copy with no content."),
        ("ATTACHMENT_NOT_BASE64", 422, CALLER, "An electronic copy whose contentBase64 is not base64."),
        ("ATTACHMENT_DIGEST_MISMATCH", 422, CALLER, "An electronic copy whose content's SHA-256 is not the one it "
         "claims."),
        ("ATTACHMENT_DUPLICATE", 422, CALLER, "The same electronic copy given twice."),
        ("ATTACHMENT_MISSING", 422, CALLER, "A document the signed form names came without its electronic copy."),
        ("ATTACHMENT_MISMATCH", 422, CALLER, "An electronic copy's type or size differs from what the signed form "
         "says of it."),
        ("ATTACHMENT_NOT_SIGNED", 422, CALLER, "An electronic copy the signed form does not name: the EDS does not "
         "cover it."),
        ("DOCUMENT_MALFORMED", 422, CALLER, "Not a signed document: JSON with `content` and `signature`."),
        ("DOCUMENT_NOT_READY", 409, STATE, "The application has no signed result document yet."),
        ("DOCUMENT_COPY_NOT_FOUND", 404, STATE, "The application came with no electronic copy of this SHA-256."),
        ("APPLICATION_NOT_FOUND", 404, STATE, "No such application (of yours)."),
        ("DISTRICT_UNKNOWN", 422, CALLER, "No district of this name (among those the system serves)."),
        ("QR_PAYLOAD_MALFORMED", 422, CALLER, "A QR payload that does not unpack to a signed document."),
        ("PDF_WITHOUT_DOCUMENT", 422, CALLER, "A PDF that carries no signed document: it was not made by the mesh."),
        ("PDF_UNREADABLE", 422, CALLER, "Not a readable PDF."),
        ("PDF_TOO_MANY_FILES", 422, CALLER, "A PDF embedding more files than the mesh's documents do."),
        ("PDF_EMBEDDED_FILE_TOO_LARGE", 422, CALLER, "A PDF whose embedded document inflates beyond its limit."),
        ("PDF_TOO_COSTLY", 422, CALLER, "A PDF that takes more time, memory or structure to read than the reader "
         "allows."),
        ("PDF_ALREADY_READING", 429, CALLER, "A PDF from this address is being read now: one at a time."),
        ("PDF_READER_BUSY", 503, DEPENDENCY, "Every PDF reader is busy: try again in a few seconds."),
        ("MAIL_INVALID", 422, CALLER, "The e-mail or SMS does not fit the `mesh.mail` contract."),
    ],
    GATEWAY: [
        ("GATEWAY_NOT_READY", 503, DEPENDENCY, "The gateway has not loaded its registry (or its trust store) yet."),
        ("MEMBER_NOT_FOUND", 404, STATE, "No member of this id in the gateway's registry."),
        ("MEMBER_NOT_SOAP", 409, STATE, "The member reaches the gateway by AMQP, not by ШЭП's SOAP channels."),
        ("SERVICE_NOT_FOUND", 404, STATE, "No service of this id to add to; to create one, give its channel and a "
         "provider."),
        ("ID_MISMATCH", 422, CALLER, "The id in the path and the id in the body differ."),
        ("GRANT_CONFLICT", 409, STATE, "A grant only adds members; the service says otherwise (replace it with PUT "
         "instead)."),
        ("NOT_IN_SEED", 404, STATE, "The seed registry has no such entry to reset to (it was added through the API)."),
        ("REGISTRY_FILE_INVALID", 400, MESH, "The gateway's registry file does not parse."),
        ("CERTIFICATE_PINNED_ELSEWHERE", 409, STATE, "The certificate is pinned to another member."),
        ("LOG_RECORD_NOT_FOUND", 404, STATE, "No message of this id in the log."),
        ("CASE_NOT_FOUND", 404, STATE, "Nothing in the gateway's log, the journal or ИС МИО for this correlation id or "
         "application number (`/admin/cases/{ref}/explain`)."),
        ("ACCOUNT_RESERVED", 403, AUTH, "The gateway's own broker account is not handed out."),
        ("BROKER_ACCOUNTS_OFF", 409, STATE, "The gateway has no broker administrator: members use the login of "
         "MESH_AMQP_URL."),
        ("BROKER_ADMIN_NOT_CONFIGURED", 404, STATE, "This gateway holds no broker administrator's login."),
        ("RESET_SCOPE_UNKNOWN", 422, CALLER, "No member service of this name to reset (the answer lists them)."),
        ("RESET_MEMBER_FAILED", 502, DEPENDENCY, "A member service did not take its part of a reset, snapshot or "
         "restore (down, unknown to the gateway, or refused): the answer names it."),
        ("SNAPSHOT_NOT_FOUND", 404, STATE, "The gateway keeps no snapshot of this name (take one, or import a "
         "file under it)."),
        ("CLOCK_OUTSIDE_VALIDITY", 409, STATE, "The mesh clock would leave the validity of the CA's or a member's "
         "certificate (the answer names them): refused unless forced."),
        ("BROKER_ADMIN_PASSWORD_MISSING", 500, MESH, "The gateway is configured with a broker administrator but no "
         "password (a start-up error)."),
        ("SETTLE_TIMEOUT_REQUIRED", 422, CALLER, "A settle without `timeoutSeconds`: it waits for the mesh, so it "
         "says how long at most."),
        ("SETTLE_TIMEOUT_OUT_OF_RANGE", 422, CALLER, "`timeoutSeconds` is not above 0 and at most 600."),
        ("SETTLE_JUMPS_OUT_OF_RANGE", 422, CALLER, "`maxJumps` is not 0 to 10,000."),
        ("SETTLE_CASE_UNKNOWN", 404, STATE, "No service of the mesh knows this case (an application number or a "
         "correlation id): nothing to settle it for."),
    ],
    NUC: [
        ("CA_NOT_READY", 503, DEPENDENCY, "The certification authority is still starting."),
        ("CERTIFICATE_NOT_FOUND", 404, STATE, "No certificate with this serial."),
        ("CERTIFICATE_ALREADY_REVOKED", 409, STATE, "The certificate was revoked already."),
        ("PKCS12_WITHOUT_KEY", 409, STATE, "The certificate's key was made by its holder: НУЦ has no PKCS#12 to "
         "give."),
        ("CSR_MALFORMED", 422, CALLER, "Not a PEM certificate signing request."),
        ("CSR_SIGNATURE_INVALID", 422, CALLER, "The CSR is not signed by the key it carries."),
        ("CSR_KEY_UNSUPPORTED", 422, CALLER, "A key type or curve НУЦ does not certify (RSA, EC P-256/P-384)."),
        ("CSR_KEY_TOO_WEAK", 422, CALLER, "An RSA key under 2048 bits."),
        ("CSR_KEY_REUSED", 422, CALLER, "The signing and the authentication CSR carry the same key."),
        ("NAME_TOO_LONG", 422, CALLER, "A name longer than a certificate's common name holds."),
        ("ROLE_UNKNOWN", 422, CALLER, "Not a role НУЦ certifies."),
        ("REVOCATION_REASON_UNKNOWN", 422, CALLER, "Not a revocation reason of RFC 5280."),
        ("SEARCH_CRITERION_MISSING", 422, CALLER, "A search without iin, bin or memberId."),
        ("TIME_WITHOUT_OFFSET", 422, CALLER, "A time without its offset (Z or +05:00)."),
        ("OCSP_CONTENT_TYPE", 415, CALLER, "POST /ocsp needs `Content-Type: application/ocsp-request`."),
    ],
    GBDFL: [
        ("PERSON_NOT_FOUND", 404, STATE, "ГБД ФЛ holds no person with this IIN (a portal registration, a "
         "citizen's profile, a record)."),
        ("IIN_BIRTH_DATE_MISMATCH", 422, CALLER, "The birth date differs from the one the IIN encodes."),
        ("IIN_SEX_MISMATCH", 422, CALLER, "The sex differs from the one the IIN encodes."),
        ("REGION_UNKNOWN", 422, CALLER, "No region of this name."),
        ("REGION_MISMATCH", 422, CALLER, "The district does not lie in the region given."),
        ("DEATH_DATE_REQUIRED", 422, CALLER, "A deceased person's record carries the date of death."),
        ("DEATH_DATE_ON_LIVING", 422, CALLER, "A living person has no date of death."),
        ("EMPLOYMENT_SINCE_REQUIRED", 422, CALLER, "Employment needs the date it started."),
        ("AGE_RANGE_EMPTY", 422, CALLER, "minAge is greater than maxAge."),
        ("WANTED_CONTRADICTS", 422, CALLER, "Facts asked of a new person that contradict each other."),
        ("NO_PERSON_FITS", 409, STATE, "No new person can be drawn with these constraints."),
    ],
    PORTAL: [
        ("ACCOUNT_EXISTS", 409, STATE, "An account for this IIN (or this BIN and IIN) is registered already."),
        ("PASSWORD_WEAK", 422, CALLER, "The password is too weak; the message says why."),
        ("ORGANISATION_LOGIN_REQUIRED", 403, AUTH, "Acting for an organisation needs its representative's login "
         "by BIN."),
        ("ORGANISATION_NOT_NAMED", 422, CALLER, "An organisation's form names the organisation and its "
         "representative."),
        ("REPRESENTATIVE_MISMATCH", 403, AUTH, "The representative the form names is not the one logged in."),
        ("SERVICE_NOT_FOR_ORGANISATIONS", 403, AUTH, "The service is applied for by a person, not an organisation "
         "(there, or anywhere)."),
        ("DISTRICT_REQUIRED", 422, CALLER, "An organisation names the district whose department it applies to."),
        ("CHANNEL_NOT_OFFERED", 422, STATE, "The service is not offered through the portal in this district."),
        ("SURVEY_NOT_YET", 409, STATE, "The survey follows the result: the application has none yet."),
        ("SURVEY_ALREADY_ANSWERED", 409, STATE, "The application's survey was answered already."),
        ("MAIL_NOT_FOUND", 404, STATE, "No message of this id in the outbox."),
        ("DOCUMENT_TYPE_UNSUPPORTED", 415, CALLER, "A document to verify is JSON, a PDF, a QR payload (text/plain) "
         "or a multipart upload."),
        ("DOCUMENT_TOO_LARGE", 413, CALLER, "A document to verify larger than a result document can be."),
        ("QR_HOLDS_REFERENCE_ONLY", 422, CALLER, "The QR code holds a link and a digest, not the signed data: give "
         "the document (JSON or PDF)."),
    ],
    CON: [
        ("BRANCH_NOT_FOUND", 404, STATE, "No ЦОН branch of this id (or none serves the district)."),
        ("TICKET_NOT_FOUND", 404, STATE, "No ticket of this id."),
        ("TICKET_REQUIRED", 422, CALLER, "In person: name the ticket of the citizen at the desk."),
        ("TICKET_NOT_YOURS", 403, AUTH, "The ticket is served by another operator."),
        ("TICKET_NOT_CALLED", 409, STATE, "Call the ticket first."),
        ("TICKET_ALREADY_CALLED", 409, STATE, "The ticket was called (or closed) already."),
        ("TICKET_CLOSED", 409, STATE, "The ticket is closed."),
        ("TICKET_ALREADY_USED", 409, STATE, "The ticket's application was sent already."),
        ("TICKET_NOT_FOR_APPLYING", 409, STATE, "The ticket was taken to collect a result, not to apply."),
        ("QUEUE_EMPTY", 404, STATE, "No one is waiting at the branch."),
        ("OPERATOR_NOT_FOUND", 404, STATE, "No ЦОН operator account for this IIN (or the branch has none)."),
        ("OPERATOR_BUSY", 409, STATE, "The operator is serving another ticket: close it first."),
        ("NOT_YOUR_BRANCH", 403, AUTH, "The visit, ticket or scan is of another branch."),
        ("VISIT_NOT_FOUND", 404, STATE, "No visit of this id."),
        ("VISIT_NOT_YOURS", 403, AUTH, "Another operator took this intake."),
        ("VISIT_CHANGED", 409, STATE, "The form was filled or sent again since it was read: read the visit and sign "
         "its form."),
        ("VISIT_ALREADY_SENT", 409, STATE, "The visit's application was signed and sent already."),
        ("GBD_FL_NO_DATA", 422, STATE, "ГБД ФЛ holds no data for this IIN: nothing is sent."),
        ("IDENTITY_REQUIRED", 422, CALLER, "The act needs the citizen at the desk (a ticket and the IIN of the "
         "identity document presented)."),
        ("IDENTITY_MISMATCH", 403, AUTH, "The identity document presented is neither the citizen's nor their "
         "representative's."),
        ("REPRESENTATIVE_IS_APPLICANT", 422, CALLER, "The representative and the citizen are the same person."),
        ("POWER_OF_ATTORNEY_FOREIGN", 422, CALLER, "The power of attorney is given by another person than the "
         "citizen."),
        ("POWER_OF_ATTORNEY_NOT_THIS_REPRESENTATIVE", 422, CALLER, "The power of attorney is given to another person "
         "than the one presenting it."),
        ("POWER_OF_ATTORNEY_NOT_YET_VALID", 422, CALLER, "The power of attorney is dated after today."),
        ("POWER_OF_ATTORNEY_EXPIRED", 422, CALLER, "The power of attorney has expired."),
        ("POWER_OF_ATTORNEY_SCOPE", 422, CALLER, "The power of attorney does not cover this service."),
        ("SERVICE_NOT_OFFERED_AT_CON", 422, STATE, "The branch's region does not offer this service through ЦОН."),
        ("SCAN_NOT_FOUND", 404, STATE, "No scan of this SHA-256 at this branch: upload it first."),
        ("SCAN_EMPTY", 422, CALLER, "A scan with no content."),
        ("SCAN_TOO_LARGE", 413, CALLER, "A scan larger than the branch takes."),
        ("SCAN_TYPE_NOT_ALLOWED", 415, CALLER, "A scan of a media type ЦОН does not take."),
        ("RESULT_NOT_READY", 409, STATE, "ИС МИО's result is not here yet."),
        ("RESULT_REFUSED", 409, STATE, "ИС МИО refused: hand its signed refusal out as it is."),
        ("RESULT_NOT_FORMED_HERE", 409, STATE, "The result is ИС МИО's signed document: hand it out as it is."),
        ("RESULT_NOT_DRAFTED", 409, STATE, "Read the result's draft first, and sign what it says."),
        ("RESULT_DRAFTED_FOR_ANOTHER", 409, STATE, "The draft names another operator as its signer: read it again."),
        ("RESULT_ALREADY_FORMED", 409, STATE, "The result was formed and signed already."),
        ("RESULT_NOT_FORMED", 409, STATE, "Form and sign the result first."),
        ("RESULT_ALREADY_HANDED_OUT", 409, STATE, "The result was handed out already."),
    ],
    MIO: [
        ("STAFF_NOT_FOUND", 401, AUTH, "No ИС МИО staff account for this IIN."),
        ("NOT_YOUR_DISTRICT", 403, AUTH, "Staff act in their own district only."),
        ("WRONG_ROLE", 403, AUTH, "The act is another role's (applications are entered by the district's clerk, …)."),
        ("NOT_THE_ASSIGNED_EXECUTOR", 403, AUTH, "The application was assigned to another executor: it is theirs to "
         "decide."),
        ("NOT_THE_NAMED_SIGNER", 403, AUTH, "The draft names another signer: it is theirs to sign."),
        ("NOT_THE_REGISTER_KEEPER", 403, AUTH, "Cards are closed by the district's register keeper."),
        ("REGULATION_NOT_FOUND", 404, STATE, "No regulation of this id."),
        ("CHANNEL_NOT_PROVIDED", 404, STATE, "The service is not received at the office in this district."),
        ("ROLE_NOT_IN_DISTRICT", 422, CALLER, "No regulation of the district has a step for this role."),
        ("FORM_SIGNATURE_NOT_CONFIRMED", 422, CALLER, "The office application's EDS is not confirmed; the message "
         "says why."),
        ("ACTION_NOT_DUE", 409, STATE, "The application waits for another action (by another role)."),
        ("STEP_ALREADY_DONE", 409, STATE, "This step of the application is done already."),
        ("APPLICATION_CLOSED", 409, STATE, "The application is decided: no step is open."),
        ("REFUSAL_NOT_PROVIDED", 409, STATE, "The regulation does not let the clerk refuse acceptance."),
        ("REASON_REQUIRED", 422, CALLER, "A refusal names its reason."),
        ("DECISION_REQUIRED", 422, CALLER, "A decision is `approve` or `refuse`."),
        ("EXECUTOR_NOT_IN_DISTRICT", 422, CALLER, "The executor assigned is no staff member of the application's "
         "district."),
        ("NOT_AN_EXECUTOR", 422, CALLER, "The staff member assigned does not have the deciding step's role."),
        ("APPLICANT_NOT_CONFIRMED", 409, STATE, "ГБД ФЛ's person is not the one the form names: the application "
         "cannot be approved."),
        ("CARD_REQUIRED", 409, STATE, "Approval needs a card on «Еңбек нарығы» the applicant does not have."),
        ("NO_DRAFT_YET", 409, STATE, "The application has no decision, so no draft, yet."),
        ("NO_SIGNER", 409, STATE, "The district has no staff member of the signing role."),
        ("DELIVERY_NOT_OFFICE", 422, STATE, "The result is handed out by the channel the application came "
         "through, not by the МИО."),
        ("EMAIL_INVALID", 422, CALLER, "Not an e-mail address."),
        ("EMAIL_WITHOUT_DELIVERY", 422, CALLER, "An e-mail address goes with delivery `email`."),
        ("CARD_NOT_FOUND", 404, STATE, "The person has no open card in this district."),
        ("CARD_EXISTS", 409, STATE, "The person has an open card already."),
        ("CARD_CLOSED", 409, STATE, "The card was closed."),
        ("ASSISTANCE_PERIOD_INVALID", 422, CALLER, "Assistance that ends before it is granted."),
    ],
    CLIENT: [
        ("Client.InvalidEnvelope", 400, CALLER, "Not an envelope: not JSON, too large, or a field wrong."),
        ("Client.InvalidPayload", 400, CALLER, "The envelope's data does not fit its service's contract."),
        ("Client.InvalidReceipt", 422, CALLER, "A delivery receipt that is not one."),
        ("Client.InvalidReply", 422, CALLER, "A reply the caller could not read or verify."),
        ("Client.MessageIdMismatch", 422, CALLER, "The transport's message id differs from the envelope's."),
        ("Client.DuplicateMessage", 409, STATE, "A second copy of a message: the first went through."),
        ("Client.DuplicateResponse", 409, STATE, "The request was answered already."),
        ("Client.UnknownMember", 403, AUTH, "The sender is not a registered member."),
        ("Client.MemberSuspended", 403, AUTH, "The sender is suspended in the registry."),
        ("Client.PublisherMismatch", 403, AUTH, "Published under another member's broker login: a member sends in "
         "its own name only."),
        ("Client.CertificateNotRegistered", 403, AUTH, "The signing certificate is not pinned for the sender at the "
         "gateway."),
        ("Client.AccessDenied", 403, AUTH, "The sender may not call, notify or answer this service (or this "
         "recipient does not follow it)."),
        ("Client.UnknownService", 422, CALLER, "No service of this id in the gateway's registry."),
        ("Client.UnknownRoute", 422, CALLER, "No district of this name provides the service."),
        ("Client.RouteRequired", 422, CALLER, "The service is served per district: name one in routeId."),
        ("Client.RouteUnresolved", 422, CALLER, "ГБД ФЛ could not give the applicant's district: name one in "
         "routeId."),
        ("Client.RecipientRequired", 422, CALLER, "A notification names its recipient."),
        ("Client.RecipientMismatch", 422, CALLER, "The recipient named is not the one the registry routes to."),
        ("Client.ReplyToRequired", 422, CALLER, "A synchronous request names its reply queue."),
        ("Client.WrongLane", 422, CALLER, "Only synchronous requests and their answers take the ingress's fast lane "
         "(routing key 'sync'); anything else is published with routing key ''."),
        ("Client.InReplyToRequired", 422, CALLER, "An answer names the request it answers (inReplyTo)."),
        ("Client.UnknownRequest", 422, CALLER, "No routed request of this id to answer."),
        ("Client.ServiceMismatch", 422, CALLER, "The answer is for another service than the request."),
        ("Client.WrongRecipient", 422, CALLER, "A delivery addressed to another member."),
        ("Client.NotEncrypted", 422, CALLER, "The payload travels encrypted to its recipient, and was not."),
        ("Client.DecryptionFailed", 422, CALLER, "The payload cannot be opened: not JWE, altered, or not an "
         "envelope's data inside."),
        ("Client.EncryptionKeyUnknown", 422, CALLER, "The payload is encrypted to a key the recipient does not "
         "have."),
        ("Client.NotSealed", 422, CALLER, "A delivery without the gateway's seal."),
        ("Client.SealInvalid", 422, CALLER, "A delivery whose gateway seal does not verify."),
        ("Client.InvalidSignature", 422, CALLER, "The envelope's signature does not verify."),
        ("Client.SignatureMalformed", 422, CALLER, "The envelope's signature is not a detached CMS with its signer's "
         "certificate."),
        ("Client.SignatureContentMismatch", 422, CALLER, "The envelope's signature is over other content."),
        ("Client.SignatureMissing", 422, CALLER, "A SOAP message without its WS-Security signature over the Body."),
        ("Client.SignatureBodyNotReferenced", 422, CALLER, "The WS-Security signature has no reference to the SOAP "
         "Body (by its wsu:Id): the Body is not what was signed."),
        ("Client.SoapInvalid", 400, CALLER, "Not a SOAP 1.1 call of SyncChannel or AsyncChannel v10: another root, "
         "namespace or operation, or a required element missing."),
        ("Client.SoapAuthFailed", 401, AUTH, "sender/senderId and password are not a SOAP member's credentials."),
        ("Client.XmlMalformed", 400, CALLER, "Not well-formed XML."),
        ("Client.XmlForbidden", 400, CALLER, "XML refused as an attack: a DTD (entity expansion, external "
         "entities) or elements nested too deep."),
        ("Client.TooLarge", 413, CALLER, "A message over the size limit."),
        ("Client.SignatureAlgorithmUnsupported", 422, CALLER, "The envelope is signed with an algorithm the mesh "
         "does not accept."),
        ("Client.UntrustedCertificate", 422, CALLER, "The signer's certificate does not chain to НУЦ."),
        ("Client.CertificateNotYetValid", 422, CALLER, "The signer's certificate is not valid yet."),
        ("Client.CertificateExpired", 422, CALLER, "The signer's certificate has expired."),
        ("Client.CertificateRevoked", 422, CALLER, "The signer's certificate is revoked."),
        ("Client.CertificateStatusUnknown", 422, CALLER, "НУЦ does not know the signer's certificate."),
        ("Client.WrongKeyUsage", 422, CALLER, "The signer's certificate is not a signing certificate."),
        ("Client.CertificateNotForSender", 422, CALLER, "The signer's certificate is of another holder than the "
         "sender."),
        ("Client.IinMismatch", 422, CALLER, "The certificate's IIN is not the one expected."),
        ("Client.BinMismatch", 422, CALLER, "The certificate's BIN is not the one expected."),
        ("Client.RoleMissing", 422, CALLER, "The certificate lacks the role expected."),
        ("Client.GatewayUnreachable", 503, DEPENDENCY, "The request could not be handed to the broker."),
    ],
    SERVER: [
        ("Server.Timeout", 504, DEPENDENCY, "The provider did not answer within the caller's deadline (or the "
         "gateway took no message)."),
        ("Server.LateResponse", 504, DEPENDENCY, "An answer that came after its caller's deadline (the caller was "
         "told Server.Timeout)."),
        ("Server.DeadlinePassed", 504, DEPENDENCY, "A request still queued when its deadline passed."),
        ("Server.NotDelivered", 504, DEPENDENCY, "No receipt came for a delivery after every attempt."),
        ("Server.ClockSkew", 503, DEPENDENCY, "A certificate cannot be checked now: НУЦ's clock and ours disagree "
         "(heals within moments)."),
        ("Server.OcspResponderUnreachable", 503, DEPENDENCY, "A certificate cannot be checked now: НУЦ's OCSP "
         "responder is unreachable."),
        ("Server.ProviderSuspended", 503, DEPENDENCY, "The provider is suspended in the registry."),
        ("Server.RouteLookupFailed", 503, DEPENDENCY, "ГБД ФЛ did not tell the applicant's district in time: try "
         "again later or set routeId."),
        ("Server.RecipientKeyUnknown", 503, DEPENDENCY, "The recipient has no certificate for key agreement pinned: "
         "its payload cannot be encrypted to it."),
        ("Server.BrokerUnavailable", 503, DEPENDENCY, "The message broker is unreachable (retried)."),
        ("Server.DatabaseUnavailable", 503, DEPENDENCY, "The database is unreachable (retried)."),
        ("Server.DependencyUnavailable", 503, DEPENDENCY, "A service the work needs did not answer (retried)."),
        ("Server.CallerGone", 410, STATE, "The caller is no longer registered: the answer has nowhere to go."),
        ("Server.RouteLookupDenied", 500, MESH, "The gateway may not ask ГБД ФЛ for an applicant's district (its "
         "registry says so)."),
        ("Server.NoHandler", 501, MESH, "The member does not handle this service or message type."),
        ("Server.ProviderError", 500, MESH, "The provider failed while answering."),
        ("Server.NotExamined", 500, MESH, "A message the gateway took but did not get to examine."),
        ("Server.WriteConflict", 500, MESH, "Another writer got there first (retried a few times)."),
        ("Server.DatabaseError", 500, MESH, "The database refused the work (retried a few times)."),
        ("Server.ProcessingFailed", 500, MESH, "The handler failed (retried a few times)."),
        ("Server.ConsumerCrashed", 500, MESH, "The consumer crashed on the message."),
        ("Server.PublishFailed", 500, MESH, "The broker refused the message every time it was published."),
        ("RETRIES_EXHAUSTED", 500, MESH, "A message that failed on every retry; the reason names the last "
         "failure."),
    ],
    SCENARIOS: [
        ("SCENARIO_RULE_UNKNOWN", 422, CALLER, "A scenario rule the mesh does not know (or a second rule for the "
         "same answer): `gbdfl:no-data`, `gbdfl:timeout`, `mio:refuse:<ground>`, `mio:overdue:<step>`, "
         "`nuc:revoked`; nothing is registered."),
        ("SCENARIO_UNKNOWN", 404, STATE, "No scenario of this id was ever registered at the gateway (or the gateway "
         "restarted since): nothing was sent."),
        ("SCENARIO_EXPIRED", 410, STATE, "The scenario's TTL has passed, or it was removed: nothing was sent."),
        ("SCENARIOS_TOO_MANY", 409, STATE, "The gateway holds as many live scenarios as it will (10,000): remove some "
         "or let them expire."),
        ("Client.ScenarioUnknown", 422, CALLER, "The message names a scenario id the gateway never registered; it "
         "is not routed (one that expired is dropped, and the message routed as a normal flow's)."),
    ],
    LAUNCHER: [
        ("LAUNCHER_BUSY", 504, DEPENDENCY, "The launcher did not carry the command out within 60 s."),
        ("SERVICE_ACTION_REFUSED", 409, STATE, "The launcher refused the command; the message says why."),
        ("SERVICE_NOT_READY", 504, DEPENDENCY, "The service started but is not ready in time; see its log."),
    ],
}


def _build() -> dict[str, ErrorCode]:
    out: dict[str, ErrorCode] = {}
    for area, entries in _ENTRIES.items():
        for code, status, fault, description in entries:
            if code in out:
                raise ValueError(f"{code} is catalogued twice ({out[code].area.key}, {area.key})")
            out[code] = ErrorCode(code=code, status=status, fault=fault, description=description, area=area)
    return out


CATALOGUE: dict[str, ErrorCode] = _build()
"""Every code, once: code → its entry."""
