"""The collection web page (``juesuan serve``): units download their template and upload the filled
workbook with an instant check; the office watches the round live, consolidates and explains.

Starlette + Jinja2 (templates and static files under ``templates/web/``, shipped in the package),
served by uvicorn. Every upload goes through the same pipeline as ``juesuan collect``
(:func:`generator.office.collect.store_upload`). May import ``core``, ``xlsx``, ``office``,
``narrative`` and ``publish``; starlette lives only here (uvicorn here and in ``cli``).
"""
