#!/bin/sh
# Runs test programs in turn; prints one summary line and fails if any failed.
passed=0; failed=0
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "test programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
