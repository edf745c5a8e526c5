#!/usr/bin/env bash
# hack/lint.sh - clang-format check and a grep for banned raw calls.
# A line may opt out of the banned-call grep with a "lint-ok" comment
# (only compactor/core/mem.c needs it: it is the allocator wrapper).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
rc=0
# usage: hack/lint.sh [FILE...]   (default: every tracked and untracked .c/.h)
if [ "$#" -gt 0 ]; then
    files="$*"
else
    files=$(git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h')
    files=$(printf '%s\n' $files | sort -u)
fi
if command -v clang-format >/dev/null 2>&1; then
    if ! clang-format --dry-run --Werror $files 2>/tmp/lint-format.$$; then
        head -40 /tmp/lint-format.$$
        echo "lint: clang-format differences (run 'make fmt')"
        rc=1
    fi
    rm -f /tmp/lint-format.$$
else
    echo "lint: clang-format missing (run 'make deps')"; rc=1
fi
banned='(^|[^_[:alnum:]])(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|atoll|atof|gets|malloc|calloc|realloc|free|strdup|strndup)[[:space:]]*\('
hits=$(grep -nE "$banned" $files | grep -v 'lint-ok' | grep -vE ':[0-9]+:\s*(/?\*|//)')
if [ -n "$hits" ]; then
    printf '%s\n' "$hits"
    echo "lint: banned raw calls above (use tc_* / snprintf / strtol wrappers)"
    rc=1
fi
bash hack/check-layers.sh || rc=1
[ "$rc" -eq 0 ] && echo "lint: ok ($(printf '%s\n' $files | wc -l) files)"
exit "$rc"
