"""Detectors of the sensitive rule, one module per kind, each pure and stateless.

mobile, id_card, bank_card: validity checks and masks, found together by digit_runs (one pass
over the digit runs of a message, evasive spellings included: full-width, one digit at a time,
Chinese digit characters); email, im_account: regex finders and masks; financial: a
clause-level reading of the phrase hits of the rule's one keyword automaton (rules.keywords).
rules.sensitive.SensitiveRule runs them all and settles overlaps.
"""
