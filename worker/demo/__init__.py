"""The embedded demo: a pymap IMAP server and an aiosmtpd SMTP server on loopback, a mailbox of
hand-written mails, and the scenario `triage demo` plays on them (`triage run` with no
configuration runs the same stack for a longer trial)."""
