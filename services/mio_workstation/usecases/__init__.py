"""ИС МИО's use cases, one small unit each, taking its collaborators explicitly (the sessions, the clock, the
district members' runtimes, the staff directory…), so that each can be built alone on SQLite and the memory bus:

- receiving an application through the gateway (``receiving``) or at the office (``office_intake``), both opening it
  through ``opening`` (numbered, its first step started, «Поступившие» to whoever follows the case);
- each staff action of a step (``actions``: accept, assign, decide, sign, issue), run by ``act`` with the rules of
  who may do what in one place (``roles``);
- simulated staff (``automatic``) and the staff modes (``modes``);
- staff: the directory, seeding and minting, logins (``staff_directory``, ``staff_enrolment``, ``staff_logins``);
- the reads (``reads``) and «Еңбек нарығы» (``register``).
"""
