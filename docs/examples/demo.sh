#!/bin/bash
# demo.sh -- gslbd in two minutes: three local "regions" (HTTP servers on
# 127.0.0.11-13), gslbd probing them and serving global.example.org on
# 127.0.0.53 port 5300, dig answers, one region stopped, its address
# leaving the answers, restarted, coming back.
#
# Then KubeFed: the fake Kubernetes API (tests/system/fake_kube.py, HTTPS,
# bearer token, list+watch) plays the host cluster; a second gslbd on
# 127.0.0.63 port 5300 reads it through a kubeconfig; a ServiceDNSRecord
# appears, its global, region and zone names answer, clusters' load
# balancers (HTTP servers on 127.0.0.21-23) die and the names fall back
# zone -> region -> global, the API goes down and the answers stay (and
# the probes still move them), gslbctl status shows each name's source,
# and the API comes back.
#
# Usage (fresh Debian 12, as root or with sudo):  bash docs/examples/demo.sh
# GSLBD=/path/gslbd GSLBCTL=/path/gslbctl: use these binaries, do not build.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash tests/deps.sh

# Build (out of tree, so the source stays clean), unless GSLBD and GSLBCTL
# name binaries already built (the test suite runs the demo that way).
if [ -z "${GSLBD:-}" ] || [ -z "${GSLBCTL:-}" ]; then
	[ -x configure ] || autoreconf -fi >/dev/null
	mkdir -p _build
	( cd _build && { [ -f Makefile ] || ../configure -q; } && make -s -j2 ) >/dev/null
	GSLBD=$top/_build/gslbd
	GSLBCTL=$top/_build/gslbctl
fi

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
# qs SERVER NAME TYPE: the sorted answers of one gslbd on one line
qs() { local srv=$1; shift; dig @"$srv" -p $PORT +norec +short "$@" | sort | tr '\n' ' '; echo; }
q() { qs $DNS "$@"; }

declare -A region_ip=([eu-west]=127.0.0.11 [us-east]=127.0.0.12 [ap-south]=127.0.0.13)
declare -A backend_pid
# start_backend NAME IP: an HTTP server on IP:8080 whose /healthz says ok
start_backend() {
	local n=$1 ip=$2
	mkdir -p "$work/be-$n"
	echo "ok from $n" > "$work/be-$n/healthz"
	python3 -m http.server 8080 --bind "$ip" --directory "$work/be-$n" \
		>/dev/null 2>&1 &
	backend_pid[$n]=$!
	pids+=($!)
}
start_region() { start_backend "$1" "${region_ip[$1]}"; }
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

# wait_on SERVER NAME EXPECTED: until NAME answers exactly EXPECTED (sorted
# addresses), 10 s at most; prints the time
wait_on() {
	local t0 now
	t0=$(date +%s%N)
	for _ in $(seq 200); do
		[ "$(qs "$1" "$2" A)" = "$3 " ] && break
		sleep 0.05
	done
	now=$(date +%s%N)
	echo "$(( (now - t0) / 1000000 )) ms"
}
wait_for() { wait_on $DNS "$@"; }
EU=${region_ip[eu-west]} US=${region_ip[us-east]} AP=${region_ip[ap-south]}

say "stopping region us-east (kill its HTTP server)"
kill "${backend_pid[us-east]}"
echo "us-east left the www answers after $(wait_for www.global.example.org "$EU $AP")"
echo "(probes every 500 ms, fall 2: the bound is about 2 x 500 + 400 ms)"
say "www now:  $(q www.global.example.org A)"

say "stopping region eu-west too"
kill "${backend_pid[eu-west]}"
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

# ---------------------------------------------------------------------------
# Part 2: KubeFed.  The fake API server plays the host cluster; three
# clusters' load balancers are HTTP servers on 127.0.0.21-23; a second gslbd
# (127.0.0.63) takes its services from the API.  See docs/kubefed.md.

DNS2=127.0.0.63
q2() { qs $DNS2 "$@"; }
wait_for2() { wait_on $DNS2 "$@"; }
# cluster -> its load balancer, region and zone
declare -A lb_ip=([c1]=127.0.0.21 [c3]=127.0.0.22 [c2]=127.0.0.23)
start_lb() { start_backend "$1" "${lb_ip[$1]}"; }
for c in c1 c2 c3; do start_lb $c; done
for c in c1 c2 c3; do
	for _ in $(seq 50); do
		curl -fsS -o /dev/null "http://${lb_ip[$c]}:8080/healthz" 2>/dev/null && break
		sleep 0.1
	done
done
C1=${lb_ip[c1]} C3=${lb_ip[c3]} C2=${lb_ip[c2]}

# The objects, built by tests/system/kube_objects.py: the Domain, three
# KubeFedClusters, and (later) ServiceDNSRecord shop/web as KubeFed's
# controllers fill it in: one load balancer per cluster, with its region
# and zone, and the probe annotations for these HTTP servers.
mkdir -p "$work/kube"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$top/tests/system python3 - "$work/kube" "$C1" "$C3" "$C2" <<'EOF'
import json, sys
import kube_objects as ko
d, c1, c3, c2 = sys.argv[1:]
base = [ko.domain("kubefed", "example.com"),
        ko.kubefed_cluster("c1", True, "eu-west", ["eu-west-1a"]),
        ko.kubefed_cluster("c3", True, "eu-west", ["eu-west-1b"]),
        ko.kubefed_cluster("c2", True, "us-east", ["us-east-1a"])]
sdr = ko.service_dns_record("web", "shop", ttl=5, dns=[
    ko.cluster_dns("c1", [c1], region="eu-west", zones=["eu-west-1a"]),
    ko.cluster_dns("c3", [c3], region="eu-west", zones=["eu-west-1b"]),
    ko.cluster_dns("c2", [c2], region="us-east", zones=["us-east-1a"])],
    annotations={"gslbd.io/probe-port": "8080",
                 "gslbd.io/probe-path": "/healthz"})
json.dump(base, open(d + "/base.json", "w"))
json.dump(sdr, open(d + "/web.json", "w"))
EOF

say "Kubernetes: the host cluster's API (tests/system/fake_kube.py): HTTPS with its own CA, a bearer token, list+watch"
python3 "$top/tests/system/fake_kube.py" --state-dir "$work/kube" \
	--token demo-token --objects "$work/kube/base.json" \
	> "$work/kube/fake_kube.log" 2>&1 &
kube_pid=$!
pids+=($kube_pid)
for _ in $(seq 100); do
	[ -f "$work/kube/fake_kube.json" ] && break
	sleep 0.1
done
kinfo() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	"$work/kube/fake_kube.json" "$1"; }
KUBE_SERVER=$(kinfo server)
KCTL="http://127.0.0.1:$(kinfo control_port)"
kctl() { curl -fsS -X POST --data "@${2:-/dev/null}" "$KCTL/$1" >/dev/null; }
echo "API server $KUBE_SERVER (control $KCTL); objects: Domain kubefed (example.com)," \
	"KubeFedClusters c1 (eu-west-1a), c3 (eu-west-1b), c2 (us-east-1a)"
curl -s --cacert "$work/kube/certs/ca.pem" -H "Authorization: Bearer demo-token" \
	"$KUBE_SERVER/apis/core.kubefed.io/v1beta1/kubefedclusters" |
	python3 -c 'import json,sys; print("kubectl get kubefedclusters:", " ".join(i["metadata"]["name"] for i in json.load(sys.stdin)["items"]))'

cat > "$work/gslbd-kube.yaml" <<EOF
control:
  listen: "$DNS2:8053"
server:
  listen: ["$DNS2:$PORT"]
  workers: 2
  identity: demo-kube
zone:
  name: example.com           # the Domain's domain
  nameservers:
    - name: ns1
      addresses: [$DNS2]
probe-defaults:
  type: http                  # port and path: the record's gslbd.io/ annotations
  interval: 500ms
  timeout: 400ms
  rise: 2
  fall: 2
kubernetes:
  kubeconfig: $work/kube/kubeconfig
  cache-file: $work/kube/cache.json
  timeout: 2s
services:                     # the config file's services still work
  - name: portal
    ttl: 5s
    probe: { type: none }
    endpoints:
      - { region: eu-west, addresses: [127.0.0.24] }
EOF
say "gslbd on $DNS2 port $PORT with a kubernetes: section and the fake's kubeconfig"
sed -n '/^kubernetes:/,/^services:/p' "$work/gslbd-kube.yaml" | sed '$d'
"$GSLBD" -t -c "$work/gslbd-kube.yaml"
"$GSLBD" -c "$work/gslbd-kube.yaml" 2> "$work/gslbd-kube.log" &
pids+=($!)
for _ in $(seq 50); do
	dig @$DNS2 -p $PORT +norec +time=1 +tries=1 example.com SOA >/dev/null 2>&1 && break
	sleep 0.1
done

G=web.shop.kubefed.svc.example.com
R=web.shop.kubefed.svc.eu-west.example.com
Z=web.shop.kubefed.svc.eu-west-1a.eu-west.example.com
say "before the record: dig $G:  $(dig @$DNS2 -p $PORT +norec $G A | grep -oE 'status: [A-Z]+')"

say "ServiceDNSRecord shop/web appears (KubeFed: c1 $C1, c3 $C3, c2 $C2)"
kctl apply "$work/kube/web.json"
echo "the watch brought it in: answered after $(wait_for2 $G "$C1 $C3 $C2")"
wait_for2 $Z "$C1" >/dev/null
say "kube global  $G:  $(q2 $G A)"
say "kube region  $R:  $(q2 $R A)"
say "kube zone    $Z:  $(q2 $Z A)"

say "cluster c1's load balancer ($C1, eu-west-1a) dies"
kill "${backend_pid[c1]}"
echo "the zone name fell back to the region after $(wait_for2 $Z "$C3")"
say "kube zone -> region  $Z:  $(q2 $Z A)"
dig @$DNS2 -p $PORT +norec $Z A +noall +answer   # A records, no CNAME hop
say "kube region  $R:  $(q2 $R A)"

say "cluster c3's load balancer ($C3, eu-west-1b) dies too: eu-west has none left"
kill "${backend_pid[c3]}"
echo "zone and region names fell back to global after $(wait_for2 $Z "$C2")"
wait_for2 $R "$C2" >/dev/null
say "kube zone -> global  $Z:  $(q2 $Z A)"
say "kube region -> global  $R:  $(q2 $R A)"
dig @$DNS2 -p $PORT +norec $R A +noall +answer

say "the API goes down (listener and watches closed)"
kctl down
sleep 1
say "kube api down: zone  $Z:  $(q2 $Z A)"
say "kube api down: global  $G:  $(q2 $G A)"
say "c1's load balancer comes back while the API is down: probes still decide"
start_lb c1
echo "the zone name is back on c1 after $(wait_for2 $Z "$C1") (rise 2)"
say "kube api down: zone  $Z:  $(q2 $Z A)"

say "gslbctl status (the second gslbd, $DNS2:8053): where each name came from"
"$GSLBCTL" -s "http://$DNS2:8053" status
"$GSLBCTL" -s "http://$DNS2:8053" status --json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    print("source %-6s %s" % (s["source"], s["name"]))'

say "the API comes back: gslbd resumes its watches"
kctl up
kube_connected() {
	"$GSLBCTL" -s "http://$DNS2:8053" status --json | python3 -c '
import json, sys
k = json.load(sys.stdin).get("kubernetes") or {}
sys.exit(0 if k.get("connected") else 1)'
}
t0=$(date +%s%N)
for _ in $(seq 150); do kube_connected && break; sleep 0.1; done
echo "reconnected after $(( ($(date +%s%N) - t0) / 1000000 )) ms (backoff from 0.5 s, doubling)"
"$GSLBCTL" -s "http://$DNS2:8053" status | grep '^kubernetes:'
say "kube api back: zone  $Z:  $(q2 $Z A)"
say "done"
