"""Time in questions and articles: parsing dates (``dates``), reading time phrases such as
"last week" (``phrases``) and turning them into retrieval filters (``filter``).

Pure text and dates: nothing here reads a store or an answer.
"""
