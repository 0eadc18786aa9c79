"""The portal's use cases, one module each, every collaborator given explicitly (the session factory, the member
runtime that sends through the outbox, the mesh clock, the logins, ГБД ФЛ through ``registry.Registry``), so each
can be built alone on SQLite and the memory bus (tests/unit/test_portal_usecases.py):

- ``registration``: an account by IIN + password, by EDS, an organisation's representative by its certificate;
- ``signing_in``: password and EDS logins of citizens and organisations, logout;
- ``accounts``: the accounts as they are (the cabinet's own, the admin's reads, lifting a lock-out);
- ``form_checks``: the district, channel and form checks an application passes before it is sent;
- ``citizen_application`` / ``organisation_application``: submitting, the outbox in the state change's transaction;
- ``following``: status notices recorded from the inbox, and the histories and «Уведомления» read from them;
- ``profile``: a citizen's own data from ГБД ФЛ; ``result_documents``: the signed result and the copies attached;
- ``survey``: seed 003's quality survey; ``document_verification``: anyone's result document verified;
- ``mail_outbox``: reading the mesh's SMS and e-mail outbox.
"""
