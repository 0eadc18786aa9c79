"""ИС ЦОН's use cases, one module each, in the order a visit runs (seed 003 п. 7 and table 2; seed 004 пп. 9-10):

the citizen takes a ticket and an operator calls it (``queue``); the operator logs in (``logins``); intake — the
service, the citizen's IIN, ГБД ФЛ asked through the gateway and the form filled from its answer, a
representative's power of attorney, scans (``intake``, ``scans``); the form signed and sent through the gateway to
the district's ИС МИО (``sending``); its statuses followed (``statuses``, ``visits``); where the regulation gives
the State Corporation the result to form, the operator forms and signs it (``results``); the result handed out in
person or by e-mail, once (``hand_out``); test support through the admin token (``admin``).

Each takes its collaborators explicitly — the sessions, the mesh clock, the member runtime it sends through (its
outbox), НУЦ's verifier, the ГБД ФЛ look-up — so it is built and tested alone on SQLite and the memory bus
(tests/unit/test_con_usecases.py); ``services.con_operator.centre`` wires them for the service. Every refusal has
its own code and changes nothing."""
