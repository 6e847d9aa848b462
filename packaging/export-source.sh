#!/bin/sh
# Copies the source tree (committed and uncommitted files, not ignored
# ones) into DEST, so packages build from a clean copy and the working tree
# stays untouched. Usage: export-source.sh TOP DEST
set -eu
top=$1 dest=$2
mkdir -p "$dest"
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked + untracked-but-not-ignored; skip files deleted in the tree.
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done; exit 0' sh |
		tar --null -T - -cf - | tar -xf - -C "$dest"
else
	tar --exclude='./build' --exclude='./build-*' --exclude='./dist' --exclude='./.git' \
		-cf - . | tar -xf - -C "$dest"
fi
