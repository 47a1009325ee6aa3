"""The template a new caseline service is copied from (see docs/adding-a-service.md).

COPY-AND-RENAME: copy this folder to `services/<name>/`, then rename `template`/`Template`
and the example stream (an *item*, opened then closed) to your service's own words. The
leading `_` keeps this folder out of `caseline serve` and `caseline up`: a copy without it
is a service as soon as it has a `bootstrap.py`.
"""
