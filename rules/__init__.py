"""The pure rule engine: a GroupMessage in, a Verdict out. No I/O, no clock, nothing of ours."""
