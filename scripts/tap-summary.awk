# Number the TAP lines of a whole run, print the plan and the closing line
# "N passed, M failed" (", K skipped" when checks were skipped: they count
# neither as passed nor as failed); exit non-zero on any failure or when
# nothing ran.  The failures are listed again just before the closing line,
# so that the tail of a long run (all that CI may keep) names them.
/^(not )?ok([ \t]|$)/ {
	n++
	if ($1 == "ok") {
		pass++
		if ($0 ~ /#[ \t]*SKIP/)
			skip++
		sub(/^ok[ \t]*[0-9]*[ \t]*-?[ \t]*/, "")
		printf "ok %d - %s\n", n, $0
	} else {
		fail++
		sub(/^not ok[ \t]*[0-9]*[ \t]*-?[ \t]*/, "")
		printf "not ok %d - %s\n", n, $0
		if (fail <= 50)
			failed[fail] = sprintf("not ok %d - %s", n, $0)
	}
	fflush()
	next
}
/^1\.\.[0-9]+/ { next }
/^#/ { print; fflush(); next }
{ print "# " $0; fflush() }
END {
	for (i = 1; i <= fail && i <= 50; i++)
		printf "# failed: %s\n", failed[i]
	printf "1..%d\n", n
	if (skip > 0)
		printf "%d passed, %d failed, %d skipped\n", pass - skip, fail, skip
	else
		printf "%d passed, %d failed\n", pass, fail
	exit (fail > 0 || n == 0) ? 1 : 0
}
