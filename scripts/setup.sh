#!/usr/bin/env bash
# Installs what calico-sim needs, idempotently, then builds it. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(bird2 etcd-server etcd-client iproute2 iptables nftables tcpdump iperf3 iputils-ping procps)

if [ "$(id -u)" -ne 0 ]; then
  echo "calico-sim: setup must run as root (it installs Debian packages and the lab creates network namespaces): run it with sudo, or as root" >&2
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
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  for t in ip bird birdc etcd etcdctl iptables nft tcpdump iperf3 ping; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "calico-sim: missing tools: ${missing[*]}. This is not a Debian system: install BIRD 2, etcd 3.4+, iproute2, iptables, nftables, tcpdump, iperf3 and ping with your package manager, then run this again" >&2
    exit 1
  fi
fi

# Debian's packages start nothing we need here (no systemd in a lab machine), but if a service
# manager did start the stock bird or etcd, our labs do not use them; we leave them alone.

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "calico-sim: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
stamp=node_modules/.calico-sim-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

npx tsc -p tsconfig.json
