"""Publish: a zoo (or a fitted model) as a folder another lab can use without lolzoo.

The last stage of the flow: it reads zoos, configs and reports and writes nothing the other
stages read back, except `lolzoo import-zoo`, which turns an exported zoo folder into a zoo file.
"""
