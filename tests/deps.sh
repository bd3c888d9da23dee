#!/bin/bash
# deps.sh -- install every Debian 12 package needed to build and test gslbd.
#
# Fast when everything is already there: one dpkg-query, no apt-get at all.
# Otherwise one `apt-get update`, then one non-interactive install.
# Uses sudo only when not root.
set -euo pipefail

PKGS=(
	build-essential autoconf automake libtool pkg-config
	libldns-dev libevent-dev libcurl4-openssl-dev libjansson-dev
	libssl-dev libyaml-dev
	bind9-dnsutils knot-dnsutils ldnsutils dnsperf unbound nginx
	bind9-utils faketime zonemaster-cli
	python3 python3-dnspython python3-pytest
	openssl curl valgrind iproute2 procps prometheus
	clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PKGS[@]} packages already installed"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"
