"""Statistics and reports (DOMAIN.md §6): `triage stats` and the `stats.report` job.

`queries` loads plain rows (`rows`) for a period; `report` computes the figures from them
(`timeliness`, `outcomes`, `backlog`, `agreement`: pure functions, each module stating its
definitions); `formats` and `html` (+ `charts`) present them; `service` and `mailing` tie the
pieces to the database and the outbox.
"""
