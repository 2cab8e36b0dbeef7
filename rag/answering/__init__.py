"""Answering: from retrieved passages to an extractive, cited answer.

``compose`` reads and chooses sentences; ``features`` and ``scoring`` turn them into one
calibrated confidence; ``speakers``, ``statements``, ``attribution``, ``quotations`` and
``roles`` answer who-said-what; ``grounding`` checks the question's names are in the text;
``duplicates`` folds syndicated copies; ``captions``, ``figures``, ``latest`` handle news
parts; ``conversation`` and ``followups`` carry a chat's context; ``span`` the short answer.
"""
