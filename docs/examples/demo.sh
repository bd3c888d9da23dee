#!/bin/bash
# demo.sh -- gslbd in two minutes: three local "regions" (HTTP servers on
# 127.0.0.11-13), gslbd probing them and serving global.example.org on
# 127.0.0.53 port 5300, dig answers, one region stopped, its address
# leaving the answers, restarted, coming back.
#
# Usage (fresh Debian 12, as root or with sudo):  bash docs/examples/demo.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash tests/deps.sh

# Build (out of tree, so the source stays clean).
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p _build
( cd _build && { [ -f Makefile ] || ../configure -q; } && make -s -j2 ) >/dev/null
GSLBD=$top/_build/gslbd
GSLBCTL=$top/_build/gslbctl

work=$(mktemp -d /tmp/gslbd-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

DNS=127.0.0.53
PORT=5300
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
q() { dig @$DNS -p $PORT +norec +short "$@" | sort | tr '\n' ' '; echo; }

declare -A region_ip=([eu-west]=127.0.0.11 [us-east]=127.0.0.12 [ap-south]=127.0.0.13)
declare -A region_pid
start_region() {
	local r=$1 ip=${region_ip[$1]}
	mkdir -p "$work/$r"
	echo "ok from $r" > "$work/$r/healthz"
	python3 -m http.server 8080 --bind "$ip" --directory "$work/$r" \
		>/dev/null 2>&1 &
	region_pid[$r]=$!
	pids+=($!)
}
wait_http() { # until the region's health page answers
	for _ in $(seq 50); do
		curl -fsS -o /dev/null "http://${region_ip[$1]}:8080/healthz" 2>/dev/null && return
		sleep 0.1
	done
}
for r in eu-west us-east ap-south; do start_region $r; done
for r in eu-west us-east ap-south; do wait_http $r; done

cat > "$work/gslbd.yaml" <<EOF
control:
  listen: "$DNS:8053"            # gslbctl / metrics / status
server:
  listen: ["$DNS:$PORT"]
  workers: 2
  identity: demo-1
zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [$DNS]
probe-defaults:
  type: http
  port: 8080
  path: /healthz
  expect-body: "ok from"
  interval: 500ms
  timeout: 400ms
  rise: 2
  fall: 2
services:
  - name: www                 # every healthy region
    policy: all
    ttl: 5s
    endpoints:
      - { region: eu-west,  addresses: [${region_ip[eu-west]}] }
      - { region: us-east,  addresses: [${region_ip[us-east]}] }
      - { region: ap-south, addresses: [${region_ip[ap-south]}] }
  - name: api                 # eu-west first, us-east when it is down
    policy: failover
    ttl: 5s
    endpoints:
      - { region: eu-west, priority: 1, addresses: [${region_ip[eu-west]}] }
      - { region: us-east, priority: 2, addresses: [${region_ip[us-east]}] }
EOF

say "config check: gslbd -t -c gslbd.yaml"
"$GSLBD" -t -c "$work/gslbd.yaml"

say "starting gslbd on $DNS port $PORT"
"$GSLBD" -c "$work/gslbd.yaml" 2> "$work/gslbd.log" &
pids+=($!)
for _ in $(seq 50); do
	dig @$DNS -p $PORT +norec +time=1 +tries=1 global.example.org SOA >/dev/null 2>&1 && break
	sleep 0.1
done
sleep 1.5  # first probe round

say "dig @$DNS -p $PORT global.example.org SOA / NS"
dig @$DNS -p $PORT +norec global.example.org SOA | grep -E 'status|flags|SOA'
dig @$DNS -p $PORT +norec global.example.org NS +noall +answer +additional
say "www (policy all):       $(q www.global.example.org A)"
say "api (policy failover):  $(q api.global.example.org A)"
say "a name that does not exist"
dig @$DNS -p $PORT +norec nope.global.example.org A | grep -E 'status|SOA'

# until NAME answers exactly EXPECTED (sorted addresses); prints the time
wait_for() {
	local t0 now
	t0=$(date +%s%N)
	for _ in $(seq 200); do
		[ "$(q "$1" A)" = "$2 " ] && break
		sleep 0.05
	done
	now=$(date +%s%N)
	echo "$(( (now - t0) / 1000000 )) ms"
}
EU=${region_ip[eu-west]} US=${region_ip[us-east]} AP=${region_ip[ap-south]}

say "stopping region us-east (kill its HTTP server)"
kill "${region_pid[us-east]}"
echo "us-east left the www answers after $(wait_for www.global.example.org "$EU $AP")"
echo "(probes every 500 ms, fall 2: the bound is about 2 x 500 + 400 ms)"
say "www now:  $(q www.global.example.org A)"

say "stopping region eu-west too"
kill "${region_pid[eu-west]}"
echo "eu-west left after $(wait_for www.global.example.org "$AP")"
say "www now:  $(q www.global.example.org A)   (only ap-south is healthy)"
wait_for api.global.example.org "$EU" >/dev/null
say "api now:  $(q api.global.example.org A)   (nothing healthy: all-down: serve-all fails open, as if all were up)"

say "restarting us-east"
start_region us-east
echo "us-east is back in www after $(wait_for www.global.example.org "$US $AP") (rise 2)"
wait_for api.global.example.org "$US" >/dev/null
say "api now:  $(q api.global.example.org A)   (failover: priority 2 region)"

say "restarting eu-west"
start_region eu-west
echo "api is back on eu-west after $(wait_for api.global.example.org "$EU")"
say "api now:  $(q api.global.example.org A)   (back to priority 1)"
wait_for www.global.example.org "$EU $US $AP" >/dev/null
say "www now:  $(q www.global.example.org A)"

say "gslbctl status (the control API on $DNS:8053)"
ctl() { "$GSLBCTL" -s "http://$DNS:8053" "$@"; }
ctl status
say "gslbctl drain ap-south (maintenance): it leaves the answers at once"
ctl drain ap-south
say "www now:  $(q www.global.example.org A)"
ctl undrain ap-south
say "gslbctl undrain ap-south:  www now:  $(q www.global.example.org A)"
say "a few metrics (curl http://$DNS:8053/metrics)"
curl -s "http://$DNS:8053/metrics" | grep -E '^gslbd_(probe_targets|addresses|queries_total|snapshot_generation)' | head -8

say "what gslbd logged (health transitions, one line each)"
grep -E 'health change|serving' "$work/gslbd.log" || true
say "done"
