"""Human evaluation of generated images: the rapid real-or-fake test of Denton et al. (2015) and
Salimans et al. (2016), in its standardized HYPE form (Zhou et al., NeurIPS 2019), run in the
browser by a local web server and measured with confidence intervals over judges and images.

One job per module:
  sources.py   resolve `--real` / `--fake` (a data set, a run and checkpoint, an image folder) to uint8 images
  study.py     the study folder: its images as opaque-id PNGs and its manifest (study.json)
  protocol.py  what a judge sees: the per-judge plan and the exposure of each trial (fixed, HYPE-∞, HYPE-time staircase)
  store.py     every answer, written at once to SQLite (WAL) inside the study folder
  server.py    the Starlette app (served by uvicorn) and the page in static/
  stats.py     error rates, staircase thresholds, bootstrap intervals, judge agreement, A-vs-B significance
  report.py    the report: text, JSON and a self-contained HTML page with plots

The web server needs the `web` extra (`pip install 'gankit[web]'`); the rest does not.
"""
