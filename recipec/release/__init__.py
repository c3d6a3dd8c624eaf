"""Releases: several recipes compiled against one model into one directory of kits, with the
release-level scripts (quantize-all.sh, eval.sh, bench-mtp.sh), release.json and the release card.

    releasefile.py  FILE.release (the variants, stock mixes, model and imatrix kept in git) -> what build.py takes
    build.py    recipes (+ stock mixes) x one model/imatrix -> REL/<variant>/ kits + release files (all or nothing each)
    scripts.py  release.json, quantize-all.sh, eval.sh, bench-mtp.sh: rendered from the plans alone
    kldlog.py   llama-perplexity's KL-divergence summary -> metrics JSON (stdlib only: eval.sh embeds it)
    mtpbench.py llama-server's own counters -> MTP speed metrics JSON (stdlib only: bench-mtp.sh embeds it)
    card.py     REL -> README.md (the release card) from release.json, the plans and metrics/
    svg.py      the card's pictures, written as SVG text (deterministic bytes)
"""
