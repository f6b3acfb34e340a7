"""Offline retrieval evaluation: judged datasets, tie-aware metrics, a runner, the bm25s baseline.

* :mod:`~service.evaluation.datasets`: CrowdFlower, Home Depot (read in place from
  ``../shared/datasets``, never shipped) and a shop's own JSONL; ids, dedupe, gains.
* :mod:`~service.evaluation.metrics`: nDCG@k, recall@k, MRR, averaged over tied scores.
* :mod:`~service.evaluation.runner`: ``evaluate()`` over the ``full`` catalog and
  each query's judged ``pool``; the ``restrict_ids`` contract; the tune/test split.
* :mod:`~service.evaluation.baselines`: plain bm25s, the reference to beat.
* :mod:`~service.evaluation.retrievers`: what ``shopguide eval`` measures by name (bm25, dense,
  hybrid, hybrid-rrf, pipeline), built from the settings.
* :mod:`~service.evaluation.pipeline`: the whole recommend pipeline as a ranker.
* :mod:`~service.evaluation.command`: ``shopguide eval``'s arguments and output.

Baselines (plain bm25s, English stopwords, Porter stemming, title + description),
``shopguide eval --dataset crowdflower|homedepot --retrieval bm25-baseline``::

    dataset      split  view  ndcg@10  recall@10  recall@50  mrr     issue 4
    crowdflower  all    full  0.7314   0.3160     0.8468     0.9010  0.731
    crowdflower  all    pool  0.7991   0.3501     0.9851     0.9416  0.799
    homedepot    all    full  0.3595   0.4501     0.6891     0.3902  0.359
    homedepot    all    pool  0.9073   0.9851     1.0000     0.7630  -

The definition that reproduces issue 4's numbers: one product per distinct text,
repeated judgments averaged, gain ``2 ** (grade - min_grade) - 1`` on the averaged
grade, nDCG 0 for a query without positive gain, and metrics averaged over tied
scores (equal to ``sklearn.metrics.ndcg_score``). Linear gains give CrowdFlower
0.775 / 0.850; keeping the 902 duplicated Home Depot titles apart gives 0.356;
a fixed tie order (catalog order or its reverse) moves Home Depot by about
0.002 either way.
"""
