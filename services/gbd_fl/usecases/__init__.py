"""ГБД ФЛ's use cases, one a module, each built from what it needs (the database's sessions, the clock, the
settings) so a test can make one alone on SQLite:

- ``person_by_iin``: ``gbdfl.person-by-iin``, a person's identity record for the mesh;
- ``social_status``: ``gbdfl.social-status-by-iin``, what the external registries know of a person;
- ``records``: the test-support API's people and their registry facts (read, create or replace, change, remove);
- ``new_person``: a brand-new synthetic person matching the kit's wishes;
- ``claim``: a person nobody else is using, for one test;
- ``seeding``: the population itself (seeded on first start, regenerated from a seed, summarised).
"""
