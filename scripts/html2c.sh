#!/bin/sh
# scripts/html2c.sh IN.html OUT.c NAME — the page as `const char NAME[]` (a C string, one
# literal per line), so pglane serves it with no file at run time.
set -eu
in=$1 out=$2 name=$3
{
	printf '/* %s — generated from %s by scripts/html2c.sh: edit that file. */\n' "$out" "$in"
	printf "// clang-format off\n"
	printf '#include "admin/status.h"\n\nconst char %s[] =\n' "$name"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/        "/' -e 's/$/\\n"/' "$in"
	printf '        ;\n'
} >"$out"
