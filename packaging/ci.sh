#!/usr/bin/env bash
# Package tests, run by .ci/run: build every architecture and its .deb,
# inspect the packages, check the systemd unit and lintian, then install
# the amd64 package on this machine, run it as the service would, upgrade,
# remove and purge it, and check nothing is left behind.
#
# It installs a package system-wide, so it runs only as root, and it
# refuses to touch a machine where gatehouse is already installed or a
# gatehouse user already exists, unless CI=true (a throwaway machine:
# then the leftovers of an earlier failed run are purged first).
#
# Needs: go, git, nfpm, dpkg-dev, lintian, systemd (systemd-analyze),
# util-linux (unshare, setpriv), dig, curl, qemu-user-static. A running
# systemd is not needed; the package's scripts skip the service steps
# without one.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "packaging/ci.sh: FAIL: $*" >&2; exit 1; }
step() { echo "-- $*"; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs the package)"
for tool in go git nfpm dpkg-deb lintian systemd-analyze unshare setpriv dig curl adduser qemu-aarch64-static qemu-arm-static; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done

installed() { dpkg-query -W -f='${db:Status-Status}' gatehouse 2>/dev/null | grep -qv '^not-installed$'; }
if installed || getent passwd gatehouse >/dev/null || getent group gatehouse >/dev/null; then
	[ "${CI:-}" = true ] || fail "gatehouse is already installed here, or a gatehouse user or group exists; run on a throwaway machine with CI=true"
	step "purging the leftovers of an earlier run"
	dpkg -P gatehouse >/dev/null 2>&1 || true
	getent passwd gatehouse >/dev/null && userdel gatehouse
	getent group gatehouse >/dev/null && groupdel gatehouse
fi

DIST=$(mktemp -d /tmp/gatehouse-dist.XXXXXX)
export DIST
smoke_pid=
cleanup() {
	status=$?
	if [ -n "$smoke_pid" ]; then kill "$smoke_pid" 2>/dev/null || true; fi
	if installed; then dpkg -P gatehouse >/dev/null 2>&1 || true; fi
	rm -rf "$DIST"
	exit "$status"
}
trap cleanup EXIT

step "build: static binaries and packages for every architecture"
NFPM=$(command -v nfpm) packaging/build.sh
version=$(cat "$DIST/VERSION")
commit=$(git rev-parse HEAD)

# ELF e_machine (little-endian, offset 18) of a binary.
elf_machine() { od -An -tx1 -j18 -N2 "$1" | tr -d ' \n'; }

step "inspect: binaries"
# name   e_machine GOARCH GOARM
for t in "amd64 3e00 amd64 -" "arm64 b700 arm64 -" "armv7 2800 arm 7" "armv6 2800 arm 6"; do
	read -r name machine goarch goarm <<<"$t"
	bin=$DIST/gatehouse-linux-$name
	[ -x "$bin" ] || fail "$bin missing"
	[ "$(elf_machine "$bin")" = "$machine" ] || fail "$bin: ELF machine $(elf_machine "$bin"), want $machine"
	info=$(go version -m "$bin")
	grep -q "build	CGO_ENABLED=0" <<<"$info" || fail "$bin: not built with CGO_ENABLED=0"
	grep -q "build	GOARCH=$goarch$" <<<"$info" || fail "$bin: GOARCH is not $goarch"
	if [ "$goarm" != - ]; then
		grep -Eq "build	GOARM=$goarm(,|$)" <<<"$info" || fail "$bin: GOARM is not $goarm"
	fi
	# -trimpath keeps -ldflags out of the build info; look for the strings.
	grep -qaF -- "$version" "$bin" || fail "$bin: version $version not embedded"
	grep -qaF -- "$commit" "$bin" || fail "$bin: commit not embedded"
done
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"

step "run: every binary on an emulated Raspberry Pi CPU (qemu user mode)"
# name   emulator            CPU: Pi 3 (Cortex-A53), Pi 2 (Cortex-A7), Pi 1 and Zero (ARM1176)
for t in "arm64 qemu-aarch64-static cortex-a53" "armv7 qemu-arm-static cortex-a7" "armv6 qemu-arm-static arm1176"; do
	read -r name qemu cpu <<<"$t"
	out=$("$qemu" -cpu "$cpu" "$DIST/gatehouse-linux-$name" version) || fail "gatehouse-linux-$name does not run on $cpu"
	[[ $out == "gatehouse $version commit "* ]] || fail "gatehouse-linux-$name on $cpu printed: $out"
	"$qemu" -cpu "$cpu" "$DIST/gatehouse-linux-$name" check-config --config packaging/gatehouse.yaml >/dev/null ||
		fail "gatehouse-linux-$name on $cpu rejects packaging/gatehouse.yaml"
	echo "$name on $cpu: $out"
done
# The reason for a separate ARMv6 package: the ARMv7 build does not run on
# the original Pi Zero and Pi 1.
# (Run from sh, whose stderr is discarded, so the crash report is too.)
if sh -c '"$0" -cpu arm1176 "$1" version; exit $?' qemu-arm-static "$DIST/gatehouse-linux-armv7" >/dev/null 2>&1; then
	fail "the ARMv7 build runs on an ARMv6 CPU: is it really built for ARMv7?"
fi

step "inspect: packages"
want_files='./etc/gatehouse/gatehouse.yaml
./etc/gatehouse/lists/allow.txt
./etc/gatehouse/lists/ctiru.txt
./etc/gatehouse/lists/iwf.txt
./etc/gatehouse/lists/ut1/
./usr/bin/gatehouse
./usr/lib/systemd/system/gatehouse.service
./usr/share/doc/gatehouse/changelog.gz
./usr/share/doc/gatehouse/copyright
./usr/share/doc/gatehouse/install.md
./usr/share/doc/gatehouse/examples/grafana-dashboard.json
./usr/share/lintian/overrides/gatehouse
./usr/share/man/man1/gatehouse.1.gz'
want_conffiles='/etc/gatehouse/gatehouse.yaml
/etc/gatehouse/lists/allow.txt
/etc/gatehouse/lists/ctiru.txt
/etc/gatehouse/lists/iwf.txt'
for t in "amd64 amd64 3e00" "arm64 arm64 b700" "armhf armhf 2800" "armhf-armv6 armhf 2800"; do
	read -r suffix arch machine <<<"$t"
	deb=$DIST/gatehouse_${version}_$suffix.deb
	[ -f "$deb" ] || fail "$deb missing"
	[ "$(dpkg-deb -f "$deb" Package)" = gatehouse ] || fail "$deb: wrong Package"
	[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "$deb: Version is not $version"
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb: Architecture is not $arch"
	dpkg-deb -f "$deb" Depends | grep -qw adduser || fail "$deb: does not depend on adduser"
	listing=$(dpkg-deb -c "$deb")
	while read -r path; do
		grep -q " $path\$" <<<"$listing" || fail "$deb: $path missing"
	done <<<"$want_files"
	grep -Eq '^-rwxr-xr-x root/root .* \./usr/bin/gatehouse$' <<<"$listing" || fail "$deb: /usr/bin/gatehouse not 0755 root"
	grep -q '/var/lib/gatehouse' <<<"$listing" && fail "$deb: ships /var/lib/gatehouse (state belongs to the machine)"
	ctl=$(mktemp -d)
	dpkg-deb -e "$deb" "$ctl"
	[ "$(sort "$ctl/conffiles")" = "$want_conffiles" ] || fail "$deb: conffiles are $(tr '\n' ' ' <"$ctl/conffiles")"
	for s in postinst prerm postrm; do
		[ -x "$ctl/$s" ] || fail "$deb: no executable $s"
		sh -n "$ctl/$s" || fail "$deb: $s is not valid sh"
	done
	grep -q 'adduser --system' "$ctl/postinst" || fail "$deb: postinst creates no system user"
	grep -q 'rm -rf /var/lib/gatehouse' "$ctl/postrm" || fail "$deb: postrm does not remove state on purge"
	rm -rf "$ctl"
	x=$(mktemp -d)
	dpkg-deb -x "$deb" "$x"
	[ "$(elf_machine "$x/usr/bin/gatehouse")" = "$machine" ] || fail "$deb: binary is for the wrong machine"
	rm -rf "$x"
done

step "inspect: systemd unit hardening"
unit=packaging/gatehouse.service
for directive in \
	'User=gatehouse' 'Group=gatehouse' \
	'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' \
	'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/gatehouse' \
	'StateDirectory=gatehouse' 'ProtectHome=yes' 'PrivateTmp=yes' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' \
	'ExecStartPre=/usr/bin/gatehouse check-config --quiet --config /etc/gatehouse/gatehouse.yaml' \
	'ExecStart=/usr/bin/gatehouse serve --config /etc/gatehouse/gatehouse.yaml' \
	'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'WantedBy=multi-user.target'; do
	grep -qxF "$directive" "$unit" || fail "$unit: no line $directive"
done
grep -Eq '^MemoryMax=[0-9]+M$' "$unit" || fail "$unit: no MemoryMax"
grep -q '^User=root' "$unit" && fail "$unit: runs as root"
# systemd's own hardening score: 0 is fully locked down, 10 is a bare
# service. A DNS server needs the network and port 53, so about 1.5; fail
# above 2.0 so a dropped directive is noticed.
systemd-analyze security --offline=true --threshold=20 "$unit" >"$DIST/security.txt" 2>&1 ||
	{ cat "$DIST/security.txt"; fail "$unit: exposure above 2.0 (systemd-analyze security)"; }
tail -1 "$DIST/security.txt"

step "lintian (amd64; every finding fixed or overridden with a reason)"
rc=0
findings=$(lintian --pedantic --fail-on error,warning,info,pedantic "$DIST/gatehouse_${version}_amd64.deb" 2>&1) || rc=$?
findings=$(grep -v '^running with root privileges is not recommended!$' <<<"$findings" || true)
if [ "$rc" != 0 ] || [ -n "$findings" ]; then
	echo "$findings"
	fail "lintian has findings (above; exit status $rc)"
fi

deb=$DIST/gatehouse_${version}_amd64.deb

step "install: dpkg -i"
dpkg -i "$deb"
installed || fail "not installed after dpkg -i"
[ "$(dpkg-query -W -f='${Version}' gatehouse)" = "$version" ] || fail "installed version is not $version"
getent passwd gatehouse >/dev/null || fail "no gatehouse user"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd gatehouse)
[ "$uid" -lt 1000 ] || fail "gatehouse user is not a system user (uid $uid)"
[ "$(getent group gatehouse | cut -d: -f3)" = "$gid" ] || fail "gatehouse user's group is not gatehouse"
[ "$home" = /var/lib/gatehouse ] || fail "gatehouse home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "gatehouse shell is $shell"
[ "$(stat -c '%U:%G %a' /var/lib/gatehouse)" = "gatehouse:gatehouse 750" ] ||
	fail "/var/lib/gatehouse is $(stat -c '%U:%G %a' /var/lib/gatehouse)"
[ -L /etc/systemd/system/multi-user.target.wants/gatehouse.service ] || fail "service not enabled"
dpkg-query -W -f='${Conffiles}\n' gatehouse | grep -q '/etc/gatehouse/gatehouse.yaml [0-9a-f]' ||
	fail "gatehouse.yaml is not a registered conffile"

step "installed: gatehouse version and check-config"
out=$(gatehouse version)
echo "$out"
[[ $out =~ ^"gatehouse $version commit $commit"(-dirty)?" built "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z" go" ]] ||
	fail "gatehouse version printed: $out"
gatehouse check-config --config /etc/gatehouse/gatehouse.yaml >/dev/null ||
	fail "check-config rejects the shipped config"
gatehouse man >/dev/null

step "installed: the first dashboard account, made as docs/install.md says"
first_admin='sudo -u gatehouse gatehouse users add --config /etc/gatehouse/gatehouse.yaml --role admin NAME'
grep -qF "$first_admin" docs/install.md || fail "docs/install.md no longer says: $first_admin"
# (setpriv stands in for sudo, which CI machines may lack; HOME as sudo sets it.)
admin_password=ci-admin-password-0123456789
echo "$admin_password" | setpriv --reuid=gatehouse --regid=gatehouse --init-groups \
	env -i HOME=/var/lib/gatehouse PATH=/usr/bin:/bin \
	gatehouse users add --config /etc/gatehouse/gatehouse.yaml --role admin ci-admin >/dev/null ||
	fail "users add as the gatehouse user"
[ "$(stat -c %U /var/lib/gatehouse/dashboard.db)" = gatehouse ] || fail "dashboard.db is not in /var/lib/gatehouse, owned by gatehouse"

step "installed: systemd-analyze verify"
systemd-analyze verify /usr/lib/systemd/system/gatehouse.service || fail "systemd-analyze verify"

step "installed: serve as the unit does (user gatehouse, CAP_NET_BIND_SERVICE only, loopback-only network)"
# The shipped config listens on :53 and :8053 and recurses from the
# internet's root servers; in a network namespace with only loopback it
# reaches nothing outside, and answers SERVFAIL for real names.
smoke=$(mktemp)
unshare --net bash -c '
	set -euo pipefail
	ip link set lo up
	STATE_DIRECTORY=/var/lib/gatehouse GOMEMLIMIT=400MiB setpriv \
		--reuid=gatehouse --regid=gatehouse --init-groups --no-new-privs \
		--inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
		--bounding-set=-all,+net_bind_service \
		/usr/bin/gatehouse serve --config /etc/gatehouse/gatehouse.yaml 2>"$1" &
	pid=$!
	for _ in $(seq 100); do
		curl -sf http://127.0.0.1:8053/metrics >/dev/null && break
		kill -0 $pid 2>/dev/null || { echo "gatehouse exited"; exit 1; }
		sleep 0.2
	done
	status=$(dig @127.0.0.1 -p 53 +tries=1 +time=8 example.org A | sed -n "s/.*status: \([A-Z]*\).*/\1/p")
	echo "dig example.org over UDP on port 53: $status"
	[ -n "$status" ] || { echo "no DNS answer on port 53"; exit 1; }
	dig @127.0.0.1 -p 53 +tcp +tries=1 +time=8 example.org A | grep -q "status:" || { echo "no DNS answer over TCP"; exit 1; }
	metrics=$(curl -sf http://127.0.0.1:8053/metrics)
	echo "$metrics" >"$2"
	grep -q "^gatehouse_" <<<"$metrics" || { echo "no gatehouse_ metrics"; exit 1; }
	echo "$(grep -c "^# TYPE gatehouse_" <<<"$metrics") gatehouse_ metric families"
	# First login, with the account made above.
	jar=$(mktemp)
	code=$(curl -s -c "$jar" -o /dev/null -w "%{http_code}" -H "Origin: http://127.0.0.1:8053" \
		--data-urlencode name=ci-admin --data-urlencode password="$3" http://127.0.0.1:8053/login)
	[ "$code" = 303 ] || { echo "dashboard login answered $code"; exit 1; }
	code=$(curl -s -b "$jar" -o /dev/null -w "%{http_code}" http://127.0.0.1:8053/status)
	rm -f "$jar"
	[ "$code" = 200 ] || { echo "dashboard status page after login answered $code"; exit 1; }
	echo "dashboard: logged in as ci-admin"
	kill -HUP $pid; sleep 1
	kill -0 $pid || { echo "gatehouse died on SIGHUP"; exit 1; }
	kill -TERM $pid
	wait $pid
' bash "$smoke" "$DIST/metrics.txt" "$admin_password" || { cat "$smoke"; rm -f "$smoke"; fail "serving as the gatehouse user"; }
grep -q 'gatehouse serving' "$smoke" || { cat "$smoke"; fail "no start-up line in the log"; }
grep -q 'level=ERROR' "$smoke" && { cat "$smoke"; fail "errors in the log"; }
rm -f "$smoke"
[ "$(stat -c %U /var/lib/gatehouse/querylog.db)" = gatehouse ] || fail "query log not written as gatehouse"

step "the Grafana dashboard and docs/monitoring.md use only metrics the program exports"
# These appear only with a downloaded list configured, so their definition
# is checked in the source instead.
only_with_url_lists="gatehouse_blocklists_refresh_failures_total:refresh_failures_total
gatehouse_blocklists_last_refresh_success_timestamp_seconds:last_refresh_success_timestamp_seconds"
names=$(grep -oh '\b\(gatehouse\|process\|go\)_[a-z_]*[a-z]' packaging/grafana-dashboard.json docs/monitoring.md | sort -u)
[ "$(wc -l <<<"$names")" -gt 20 ] || fail "found too few metric names in the dashboard and docs"
for m in $names; do
	family=${m%_bucket}
	grep -q "^# TYPE $family " "$DIST/metrics.txt" && continue
	ok=
	for e in $only_with_url_lists; do
		if [ "${e%%:*}" = "$family" ] && grep -q "Name: \"${e#*:}\"" blocklists/metrics.go; then ok=1; fi
	done
	[ -n "$ok" ] || fail "the dashboard or docs/monitoring.md names $m, which gatehouse does not export"
done
if command -v python3 >/dev/null; then
	python3 -m json.tool packaging/grafana-dashboard.json >/dev/null || fail "grafana-dashboard.json is not valid JSON"
fi

step "upgrade: to a newer version, with a local config edit and state"
# The same contents under a higher version, so dpkg runs a real upgrade
# (old prerm upgrade, new postinst configure OLD-VERSION).
newer=$version+ci1
GATEHOUSE_VERSION=$newer NFPM_ARCH=amd64 GATEHOUSE_BINARY=$DIST/gatehouse-linux-amd64 GATEHOUSE_DOCDIR=$DIST/doc \
	nfpm package --config packaging/nfpm.yaml --packager deb --target "$DIST/newer.deb" >/dev/null
echo "# local edit by ci.sh" >>/etc/gatehouse/gatehouse.yaml
uid_before=$(id -u gatehouse)
dpkg -i "$DIST/newer.deb"
[ "$(dpkg-query -W -f='${Version}' gatehouse)" = "$newer" ] || fail "upgrade did not install $newer"
grep -q '^# local edit by ci.sh$' /etc/gatehouse/gatehouse.yaml || fail "upgrade overwrote the edited conffile"
[ ! -e /etc/gatehouse/gatehouse.yaml.dpkg-new ] || fail "upgrade left gatehouse.yaml.dpkg-new"
[ -f /var/lib/gatehouse/querylog.db ] || fail "upgrade lost the state"
[ -f /var/lib/gatehouse/dashboard.db ] || fail "upgrade lost the dashboard accounts"
[ "$(id -u gatehouse)" = "$uid_before" ] || fail "upgrade recreated the gatehouse user"
[ -L /etc/systemd/system/multi-user.target.wants/gatehouse.service ] || fail "upgrade disabled the service"

step "upgrade: a service the technician disabled stays disabled"
systemctl disable gatehouse.service # works without a running systemd
dpkg -i "$deb" # back down to the build's own version
[ ! -e /etc/systemd/system/multi-user.target.wants/gatehouse.service ] || fail "reinstall re-enabled a disabled service"
systemctl enable gatehouse.service

step "remove: dpkg -r keeps config, state and user"
dpkg -r gatehouse
[ ! -e /usr/bin/gatehouse ] || fail "/usr/bin/gatehouse left after remove"
[ ! -e /usr/lib/systemd/system/gatehouse.service ] || fail "unit left after remove"
[ -f /etc/gatehouse/gatehouse.yaml ] || fail "remove deleted the config"
[ -f /var/lib/gatehouse/querylog.db ] || fail "remove deleted the state"
[ -f /var/lib/gatehouse/dashboard.db ] || fail "remove deleted the dashboard accounts"
getent passwd gatehouse >/dev/null || fail "remove deleted the user"

step "purge: dpkg -P leaves nothing"
dpkg -P gatehouse
installed && fail "still known to dpkg after purge"
for p in /etc/gatehouse /var/lib/gatehouse /usr/bin/gatehouse /usr/share/doc/gatehouse \
	/usr/share/man/man1/gatehouse.1.gz /usr/lib/systemd/system/gatehouse.service; do
	[ ! -e "$p" ] || fail "$p left after purge"
done
getent passwd gatehouse >/dev/null && fail "gatehouse user left after purge"
getent group gatehouse >/dev/null && fail "gatehouse group left after purge"
left=$(find /etc/systemd /var/lib/systemd -name '*gatehouse*' 2>/dev/null || true)
[ -z "$left" ] || fail "systemd leftovers after purge: $left"

echo "packaging/ci.sh: ok ($version)"
