"""One module per measure family of 78號, each the same shape: item model, reader, arrays, rows, public
function.
"""
