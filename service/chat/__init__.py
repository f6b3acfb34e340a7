"""Conversations (issue 15): sessions that remember what the shopper asked for, was shown and turned down.

One module per job: :mod:`.session` (the stored session and its stores: Redis, or in-process), :mod:`.state`
(the constraints in force and how a turn changes them), :mod:`.reading` (what a message does beyond the
constraints query understanding reads: lifting a constraint, pointing at a shown product, rejecting one,
asking to compare, a relative refinement), :mod:`.attributes` (attribute values such as colours named in a
message), :mod:`.answers` (comparisons and product questions answered from catalog data, grounded),
:mod:`.clarify` (the one question a vague opener gets) and :mod:`.pipeline` (a turn, end to end).
"""
