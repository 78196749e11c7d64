#!/usr/bin/env bash
# Installs what calico-sim needs, idempotently, then builds it. Run as root on Debian 12.
# --docker: also what the docker backend needs (docker.io, debootstrap), and a running dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(bird2 etcd-server etcd-client iproute2 iptables ipset nftables tcpdump tshark iperf3 iputils-ping procps fonts-dejavu-core)
DOCKER=0
case "${1:-}" in
  --docker) DOCKER=1; PACKAGES+=(docker.io debootstrap) ;;
  "") ;;
  *) echo "usage: bash scripts/setup.sh [--docker]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "calico-sim: setup must run as root (it installs Debian packages and the lab creates network namespaces): run it with sudo, or as root" >&2
  exit 1
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "calico-sim: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if [ -r /etc/os-release ] && grep -q '^ID=debian' /etc/os-release && ! grep -q '^VERSION_ID="1[2-9]"' /etc/os-release; then
  echo "calico-sim: Debian 12 or newer is needed (older releases ship etcd 3.3 and an older BIRD)" >&2
  exit 1
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The packages must not start their stock services (an etcd on 127.0.0.1:2379, a BIRD in the
    # root namespace): labs start their own, inside their namespaces. policy-rc.d says "no".
    policy=/usr/sbin/policy-rc.d
    had_policy=0; [ -e "$policy" ] && had_policy=1
    if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
    # tshark (a cross-check of our pcap reader) must not ask whether non-root may capture.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ $had_policy -eq 0 ] && rm -f "$policy"
    # A Docker installed here for calico-sim must not come up later as the stock service, with
    # its docker0 bridge, NAT rules and forwarding in the root namespace: below, dockerd is
    # started with all of that off instead.
    if [[ " ${missing[*]} " == *" docker.io "* ]] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
    fi
  fi
else
  tools=(ip bird birdc etcd etcdctl iptables ipset nft tcpdump iperf3 ping)
  [ $DOCKER -eq 1 ] && tools+=(dockerd debootstrap)
  for t in "${tools[@]}"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "calico-sim: missing tools: ${missing[*]}. This is not a Debian system: install BIRD 2, etcd 3.4+, iproute2, iptables, ipset, nftables, tcpdump, iperf3 and ping (and for --docker: Docker and debootstrap) with your package manager, then run this again" >&2
    exit 1
  fi
fi

# The docker backend's engine. One that already answers (DOCKER_HOST, else the default socket) is
# used as it is: labs only make containers with --network none. Otherwise dockerd is started with
# everything that would touch the machine's network off: no bridge, no iptables, no forwarding.
if [ $DOCKER -eq 1 ] && ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd (log: /var/log/calico-sim-dockerd.log)"
  setsid dockerd --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --userland-proxy=false \
    >>/var/log/calico-sim-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  if ! docker info >/dev/null 2>&1; then
    echo "calico-sim: dockerd did not start: see /var/log/calico-sim-dockerd.log" >&2
    exit 1
  fi
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
stamp=node_modules/.calico-sim-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# A clean build: files of deleted sources must not linger in dist/.
rm -rf dist
npx tsc -p tsconfig.json
