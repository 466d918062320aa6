#!/usr/bin/env bash
# Builds Gatehouse for release: static binaries (no cgo) for every
# supported architecture and a .deb for each, into dist/.
#
#   packaging/build.sh            # everything, version from git
#   GATEHOUSE_VERSION=1.2.0 packaging/build.sh
#
# Needs Go, git and nfpm (go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0;
# set NFPM to use another path). The build is reproducible: file times
# and the embedded build date are the commit's time (SOURCE_DATE_EPOCH).
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM=${NFPM:-nfpm}
BASE_VERSION=0.1.0 # next release; snapshot builds sort before it
DIST=${DIST:-dist}

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	commit+=-dirty
fi
build_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
# A Debian version: "~" sorts before the release, and the commit time
# makes successive snapshots upgrade one another.
version=${GATEHOUSE_VERSION:-$BASE_VERSION~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).$(git rev-parse --short=12 HEAD)}
if ! [[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
	echo "build.sh: $version is not a valid native Debian version" >&2
	exit 1
fi

rm -rf "$DIST"
mkdir -p "$DIST/doc"

# name    GOARCH GOARM nfpm-arch  .deb suffix
targets=(
	"amd64  amd64  -     amd64      amd64"
	"arm64  arm64  -     arm64      arm64"
	"armv7  arm    7     arm7       armhf"
	"armv6  arm    6     arm6       armhf-armv6"
)

ldflags="-s -w -buildid= -X main.version=$version -X main.commit=$commit -X main.date=$build_date"
for t in "${targets[@]}"; do
	read -r name goarch goarm _ _ <<<"$t"
	[ "$goarm" = - ] && goarm=
	echo "build.sh: gatehouse-linux-$name"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -buildvcs=false -ldflags "$ldflags" \
		-o "$DIST/gatehouse-linux-$name" ./cmd/gatehouse
done

# The copyright file: Gatehouse's own notice, then the licence of every
# module compiled into the binary (a static binary carries their code, and
# their licences ask for the notice to travel with it).
modules=$(for goarch in amd64 arm64 arm; do
	GOOS=linux GOARCH=$goarch CGO_ENABLED=0 go list -deps \
		-f '{{with .Module}}{{if not .Main}}{{if .Replace}}{{.Replace.Path}} {{.Replace.Version}} {{.Replace.Dir}}{{else}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}{{end}}' \
		./cmd/gatehouse
done | sort -u)
{
	cat packaging/copyright
	printf '\nThe Go standard library and runtime (%s):\n\n' "$(go env GOVERSION)"
	sed 's/^/  /' "$(go env GOROOT)/LICENSE"
	while read -r path modversion dir; do
		[ -n "$path" ] || continue
		licence=
		for f in LICENSE LICENSE.md LICENSE.txt LICENCE COPYING LICENSE-MIT; do
			if [ -f "$dir/$f" ]; then licence=$dir/$f; break; fi
		done
		if [ -z "$licence" ]; then
			echo "build.sh: no licence file found for $path $modversion in $dir" >&2
			exit 1
		fi
		printf '\n%s %s:\n\n' "$path" "$modversion"
		if grep -q 'Apache License' "$licence" && grep -q 'Version 2.0' "$licence"; then
			# Debian ships the text; lintian asks to point at it.
			printf '  Licensed under the Apache License, Version 2.0. On Debian systems\n'
			printf '  the full text is in /usr/share/common-licenses/Apache-2.0.\n'
		else
			sed 's/^/  /' "$licence"
		fi
		if [ -f "$dir/NOTICE" ]; then
			printf '\n  NOTICE:\n'
			sed 's/^/  /' "$dir/NOTICE"
		fi
	done <<<"$modules"
} | sed 's/[[:space:]]*$//' >"$DIST/doc/copyright"

# One changelog entry for this build (a native package: changelog.gz).
{
	printf 'gatehouse (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Build of commit %s.\n' "$commit"
	printf '    The project history (git log) lists the changes.\n\n'
	printf ' -- %s  %s\n' "$(sed -n 's/^maintainer: //p' packaging/nfpm.yaml)" \
		"$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$DIST/doc/changelog.gz"
# The manual page, generated from the command definitions.
CGO_ENABLED=0 go run -trimpath ./cmd/gatehouse man | gzip -9n >"$DIST/doc/gatehouse.1.gz"
touch -d "@$SOURCE_DATE_EPOCH" "$DIST"/doc/*

for t in "${targets[@]}"; do
	read -r name _ _ nfpm_arch suffix <<<"$t"
	GATEHOUSE_VERSION=$version NFPM_ARCH=$nfpm_arch \
		GATEHOUSE_BINARY=$DIST/gatehouse-linux-$name GATEHOUSE_DOCDIR=$DIST/doc \
		"$NFPM" package --config packaging/nfpm.yaml --packager deb \
		--target "$DIST/gatehouse_${version}_$suffix.deb" >/dev/null
	echo "build.sh: gatehouse_${version}_$suffix.deb"
done

(cd "$DIST" && sha256sum gatehouse-linux-* gatehouse_*.deb >SHA256SUMS)
echo "$version" >"$DIST/VERSION"
