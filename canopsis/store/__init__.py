"""The storage of the domain documents: one module per kind of document.

Each module holds its collections' names, their indexes, and the queries both the
engines and the REST API use; engines and resources reach the database through them.
"""
