#!/bin/sh
# Builds the hitless-agent and hitless-coordinator .rpms from a copy of the
# tree with packaging/rpm/hitless.spec. Usage: build-rpm.sh TOP OUTDIR
# PKG_VERSION=V builds version V instead of the VERSION file's (tests use
# it to make an upgrade).
# On Debian, rpmbuild needs --nodeps (rpm's database does not know dpkg's
# packages) and packaging/rpm/macros.debian (no systemd rpm macros); on an
# rpm-based system the spec builds as is once @VERSION@ is filled in.
set -eu
top=$(cd "$1" && pwd)
out=$2
version=${PKG_VERSION:-$(cat "$top/VERSION")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hitless-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/SOURCES" "$work/SPECS" "$work/BUILD" "$work/RPMS" "$work/SRPMS"
"$top/packaging/export-source.sh" "$top" "$work/src/hitless-$version"
echo "$version" >"$work/src/hitless-$version/VERSION"
tar -C "$work/src" -czf "$work/SOURCES/hitless-$version.tar.gz" "hitless-$version"

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
sed -e "s/@VERSION@/$version/g" \
    -e "s/@CHANGELOG_DATE@/$(LC_ALL=C date -u -d "@$epoch" '+%a %b %d %Y')/" \
    "$top/packaging/rpm/hitless.spec" >"$work/SPECS/hitless.spec"

load=""
if [ -e /etc/debian_version ]; then
	load="--nodeps --load=$top/packaging/rpm/macros.debian"
fi
# shellcheck disable=SC2086
SOURCE_DATE_EPOCH=$epoch rpmbuild $load --define "_topdir $work" \
	-bb "$work/SPECS/hitless.spec" >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log" >&2
	echo "build-rpm: rpmbuild failed" >&2
	exit 1
}
cp "$work/build.log" "$out/rpm-build.log"
cp "$work/SPECS/hitless.spec" "$out/hitless.spec"
find "$work/RPMS" -name '*.rpm' -exec cp {} "$out/" \;
ls "$out"/hitless-*-"$version"-*.rpm
