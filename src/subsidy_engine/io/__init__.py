"""Reading people's files: cells as typed, column readers that collect every problem, and plain files.
"""
