"""Money, dates, vocabularies, field types, provenance: the engine's words. Imports nothing else of the
package.
"""
