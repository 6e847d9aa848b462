#!/bin/sh
# Builds the hitless-agent and hitless-coordinator .debs from a copy of the
# tree. PKG_VERSION=V builds version V instead of the VERSION file's (tests
# use it to make an upgrade). Usage: build-deb.sh TOP OUTDIR
# The version is the top-level VERSION file (a native package: 0.1.0).
# DEB_BUILD_OPTIONS defaults to nocheck when unset (the unit tests run in
# `make check`); DEB_BUILD_OPTIONS= (empty) runs them during the build.
set -eu
top=$(cd "$1" && pwd)
out=$2
version=${PKG_VERSION:-$(cat "$top/VERSION")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hitless-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT

src="$work/hitless-$version"
"$top/packaging/export-source.sh" "$top" "$src"
echo "$version" >"$src/VERSION"
rm -rf "$src/debian"
cp -a "$top/packaging/deb/debian" "$src/debian"

# The changelog entry carries the version; its date is the last commit's
# (reproducible builds), or now outside git.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
cat >"$src/debian/changelog" <<EOC
hitless ($version) unstable; urgency=medium

  * Release $version (version taken from the VERSION file).

 -- hitless developers <hitless@example.org>  $(LC_ALL=C date -u -R -d "@$epoch")
EOC

cd "$src"
DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck} SOURCE_DATE_EPOCH=$epoch \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed" >&2
	exit 1
}
cp "$work/build.log" "$out/deb-build.log"
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.changes "$work"/*.buildinfo; do
	[ -e "$f" ] && cp "$f" "$out/"
done
ls "$out"/*_"$version"_*.deb
