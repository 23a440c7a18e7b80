"""Jump-ahead: reaching any position of a stream without generating the prefix."""
