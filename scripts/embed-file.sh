#!/bin/sh
# Writes a C file defining `const char NAME[]` (the bytes of FILE, then a
# NUL) and `const size_t NAME_len` (without the NUL).
# Usage: embed-file.sh FILE NAME > OUT.c
set -eu
file=$1
name=$2
echo "/* Generated from $file by scripts/embed-file.sh; do not edit. */"
echo "#include <stddef.h>"
echo "const char $name[] = {"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/        /'
echo "        0x00 };"
echo "const size_t ${name}_len = sizeof $name - 1;"
